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

# Elder categories as the programmes count them. Recorded ones carry their date and source (a survey, the
# civil-affairs bureau's 低保/特困 register, the veterans' office's 优抚 list); the age groups are derived
# from the resident ID number's birth date and never recorded.
RECORDED_CATEGORIES: dict[str, str] = {
    "living_alone": "独居",
    "empty_nest": "空巢",
    "dibao": "低保",
    "tekun": "特困",
    "youfu": "优抚",
}
DERIVED_CATEGORIES: dict[str, str] = {"aged_80": "高龄(80岁及以上)", "aged_100": "百岁(100岁及以上)"}
ELDER_CATEGORIES: dict[str, str] = {**RECORDED_CATEGORIES, **DERIVED_CATEGORIES}
RecordedCategory = Literal["living_alone", "empty_nest", "dibao", "tekun", "youfu"]
ElderCategoryCode = Literal["living_alone", "empty_nest", "dibao", "tekun", "youfu", "aged_80", "aged_100"]

# GB/T 42195-2022 老年人能力评估规范: the five levels of an ability assessment, in order of need.
ABILITY_LEVELS: dict[str, str] = {
    "intact": "能力完好",
    "mild": "能力轻度受损(轻度失能)",
    "moderate": "能力中度受损(中度失能)",
    "severe": "能力重度受损(重度失能)",
    "total": "能力完全丧失(完全失能)",
}
AbilityLevel = Literal["intact", "mild", "moderate", "severe", "total"]

CONTACT_RELATIONS = ("spouse", "child", "relative", "guardian", "neighbour", "other")
ContactRelation = Literal["spouse", "child", "relative", "guardian", "neighbour", "other"]
