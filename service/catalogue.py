"""The closed vocabularies of the programmes: service codes, roles and statuses.

Stored as plain strings guarded by CHECK constraints (not native PostgreSQL enums, which would store
member names and need a migration for every new value).
"""

from __future__ import annotations

from typing import Literal

SERVICES: dict[str, str] = {
    "emergency": "助急",
    "meal": "助餐",
    "clean": "助洁",
    "medical": "助医",
    "mobility": "助行",
    "recreation": "助乐",
    "companionship": "精神慰藉",
    "health": "健康管理",
}
ServiceCode = Literal["emergency", "meal", "clean", "medical", "mobility", "recreation", "companionship", "health"]

ROLES = ("admin", "operator", "provider", "regulator", "gateway")
Role = Literal["admin", "operator", "provider", "regulator", "gateway"]

AREA_LEVELS = ("city", "county", "street", "community")
ELDER_STATUSES = ("active", "suspended", "deceased", "moved")
ElderStatus = Literal["active", "suspended", "deceased", "moved"]
PROVIDER_STATUSES = ("active", "suspended")
ProviderStatus = Literal["active", "suspended"]

URGENCIES = ("routine", "urgent", "emergency")
Urgency = Literal["routine", "urgent", "emergency"]
CHANNELS = ("phone", "one_touch", "app", "plan")
REQUEST_KINDS = ("planned", "ad_hoc")
REQUEST_STATUSES = (
    "open", "assigned", "accepted", "in_progress", "completed", "cancelled", "unassignable", "missed",
)
ASSIGNMENT_STATUSES = ("offered", "accepted", "declined", "expired", "cancelled", "completed")
ACTIVE_ASSIGNMENT_STATUSES = ("offered", "accepted")
VISIT_STATUSES = ("in_progress", "verified", "exception")


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint body that keeps a string column inside its vocabulary."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"

# One-touch phones (一键通) and home sensors, and what a call-centre call was and how it ended.
DEVICE_KINDS = ("one_touch", "fall_sensor", "smoke_sensor", "gas_sensor", "water_sensor", "door_sensor",
                "motion_sensor", "health_monitor")
DeviceKind = Literal["one_touch", "fall_sensor", "smoke_sensor", "gas_sensor", "water_sensor", "door_sensor",
                     "motion_sensor", "health_monitor"]
DEVICE_STATUSES = ("active", "retired")
DeviceStatus = Literal["active", "retired"]
CALL_TYPES = ("request", "enquiry", "complaint", "hang_up", "callback", "proactive")
CallType = Literal["request", "enquiry", "complaint", "hang_up", "callback", "proactive"]
CALL_OUTCOMES = ("request_created", "answered", "complaint_opened", "referred", "needs_callback", "no_answer",
                 "reached_well", "reached_needs_help")
CallOutcome = Literal["request_created", "answered", "complaint_opened", "referred", "needs_callback", "no_answer",
                      "reached_well", "reached_needs_help"]
UNREACHED = ("needs_callback", "no_answer")  # outcomes of a call in which nobody was helped: call again
COMPLAINT_STATUSES = ("open", "sent", "answered", "resolved")
ComplaintStatus = Literal["open", "sent", "answered", "resolved"]
