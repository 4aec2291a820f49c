"""The closed vocabularies of the programmes: service codes, roles and statuses.

Stored as plain strings guarded by CHECK constraints (not native PostgreSQL enums, which would store
member names and need a migration for every new value).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

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
DEVICE_KINDS = (
    "one_touch",
    "fall_sensor",
    "smoke_sensor",
    "gas_sensor",
    "water_sensor",
    "door_sensor",
    "motion_sensor",
    "health_monitor",
)
DeviceKind = Literal[
    "one_touch",
    "fall_sensor",
    "smoke_sensor",
    "gas_sensor",
    "water_sensor",
    "door_sensor",
    "motion_sensor",
    "health_monitor",
]
DEVICE_STATUSES = ("active", "retired")
DeviceStatus = Literal["active", "retired"]
CALL_TYPES = ("request", "enquiry", "complaint", "hang_up", "callback", "proactive")
CallType = Literal["request", "enquiry", "complaint", "hang_up", "callback", "proactive"]
CALL_OUTCOMES = (
    "request_created",
    "answered",
    "complaint_opened",
    "referred",
    "needs_callback",
    "no_answer",
    "reached_well",
    "reached_needs_help",
)
CallOutcome = Literal[
    "request_created",
    "answered",
    "complaint_opened",
    "referred",
    "needs_callback",
    "no_answer",
    "reached_well",
    "reached_needs_help",
]
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

# The service catalogue (service/items): what an item of a help is counted in, and where it is delivered.
ITEM_UNITS = ("visit", "meal", "trip", "session")
ItemUnit = Literal["visit", "meal", "trip", "session"]
# home: both fixes at the elder's home; from_home: starts at home and may end elsewhere (escorts);
# door: handed over at the door (both fixes there, no minimum stay needed); centre: at one of the
# visiting provider's stations (社区居家养老服务中心), both fixes within the geofence of the same station.
ITEM_PLACES = ("home", "from_home", "door", "centre")
ItemPlace = Literal["home", "from_home", "door", "centre"]

# The item a request of each help carries when it names none (old clients, plan rows, alerts). Rows stored
# before the catalogue (item NULL) are read as this item too.
DEFAULT_ITEMS: dict[str, str] = {
    "emergency": "emergency_response",
    "meal": "meal_delivery",
    "clean": "home_care_visit",
    "medical": "medical_escort",
    "mobility": "mobility_trip",
    "recreation": "recreation_session",
    "companionship": "companionship_visit",
    "health": "health_check",
}
# The programme's home-care visit (居家上门服务, ≥ 60 minutes, counted toward the monthly entitlement).
HOME_CARE_ITEM = "home_care_visit"

# The catalogue as first seeded (migration 0007); admins add versions of these or new items.
SEED_ITEMS: tuple[dict, ...] = (
    {
        "code": "emergency_response",
        "help": "emergency",
        "name": "紧急响应上门",
        "unit": "visit",
        "min_minutes": None,
        "place": "home",
        "counts_toward_entitlement": False,
        "tasks": ["emergency", "medical", "companionship"],
    },
    {
        "code": "meal_delivery",
        "help": "meal",
        "name": "送餐上门",
        "unit": "meal",
        "min_minutes": None,
        "place": "door",
        "counts_toward_entitlement": False,
        "tasks": ["meal", "companionship"],
    },
    {
        "code": "meal_at_home",
        "help": "meal",
        "name": "上门做饭",
        "unit": "visit",
        "min_minutes": 60,
        "place": "home",
        "counts_toward_entitlement": True,
        "tasks": ["meal", "clean"],
    },
    {
        "code": "home_care_visit",
        "help": "clean",
        "name": "居家上门服务",
        "unit": "visit",
        "min_minutes": 60,
        "place": "home",
        "counts_toward_entitlement": True,
        "tasks": ["clean", "meal", "companionship", "health", "medical", "mobility", "recreation", "emergency"],
    },
    {
        "code": "medical_escort",
        "help": "medical",
        "name": "陪同就医",
        "unit": "trip",
        "min_minutes": None,
        "place": "from_home",
        "counts_toward_entitlement": False,
        "tasks": ["medical", "mobility", "companionship"],
    },
    {
        "code": "medical_home_visit",
        "help": "medical",
        "name": "上门医护",
        "unit": "visit",
        "min_minutes": 60,
        "place": "home",
        "counts_toward_entitlement": True,
        "tasks": ["medical", "health", "companionship"],
    },
    {
        "code": "mobility_trip",
        "help": "mobility",
        "name": "助行出行",
        "unit": "trip",
        "min_minutes": None,
        "place": "from_home",
        "counts_toward_entitlement": False,
        "tasks": ["mobility", "companionship"],
    },
    {
        "code": "recreation_session",
        "help": "recreation",
        "name": "中心文娱活动",
        "unit": "session",
        "min_minutes": None,
        "place": "centre",
        "counts_toward_entitlement": False,
        "tasks": ["recreation", "companionship"],
    },
    {
        "code": "companionship_visit",
        "help": "companionship",
        "name": "精神慰藉上门",
        "unit": "visit",
        "min_minutes": 60,
        "place": "home",
        "counts_toward_entitlement": True,
        "tasks": ["companionship", "clean", "health"],
    },
    {
        "code": "health_check",
        "help": "health",
        "name": "健康管理上门",
        "unit": "visit",
        "min_minutes": 60,
        "place": "home",
        "counts_toward_entitlement": True,
        "tasks": ["health", "medical", "companionship"],
    },
)


def seeded_items() -> list[dict[str, Any]]:
    """The catalogue's first rows (migration 0007; a database emptied for tests or a reload gets them again)."""
    return [
        {
            **item,
            "effective_from": date(2000, 1, 1),
            "created_by": "migration 0007",
            "created_at": datetime(2026, 12, 2, tzinfo=UTC),
        }
        for item in SEED_ITEMS
    ]
