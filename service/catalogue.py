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

ROLES = ("admin", "operator", "provider", "regulator")
Role = Literal["admin", "operator", "provider", "regulator"]

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
