"""What `generate_world` returns: plain frozen records, no database types, so that the loader (and
anything else, e.g. a JSON dump via `dataclasses.asdict`) can map them as it likes.

Coordinates are WGS-84 degrees. Area codes follow 行政区划代码: 6 digits county (or city 460100),
9 digits street/town, 12 digits community/village; a code's parent is its prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    level: str  # "city" | "county" | "street" | "community"
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class Station:
    """A provider's base: a community care centre or day-care centre it runs."""

    name: str
    lat: float
    lon: float
    area_code: str  # the 12-digit community it stands in
    kind: str  # 社区居家养老服务中心 | 区级示范中心 | 日间照料中心 | 社区为老服务站


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    stations: tuple[Station, ...]
    areas: tuple[str, ...]  # 9-digit street codes it is contracted for
    services: tuple[str, ...]  # service codes, in catalogue order
    monthly_quota: int  # visits a month
    contract_start: date
    contract_end: date
    caregivers: int


@dataclass(frozen=True, slots=True)
class Elder:
    name: str
    gender: str  # "male" | "female", as the 17th digit of the ID number says
    id_number: str
    birth_date: date
    phone: str
    address: str
    lat: float
    lon: float
    area_code: str  # 12-digit community
    visits_per_month: int  # 1 or 2
    min_minutes: int
    services: tuple[str, ...]  # catalogue order
    living_alone: bool
    has_one_touch_device: bool
    device_id: str | None
    preferred_weekdays: tuple[int, ...]  # 0 = Monday … 6 = Sunday; empty = no preference
    previous_provider: int | None  # index into World.providers of last month's provider
    # The survey's record (seed/programme.py): recorded categories, and the GB/T 42195 ability assessment.
    categories: tuple[str, ...] = ()
    ability_level: str = "intact"
    assessed_on: date = date(2026, 1, 5)


@dataclass(frozen=True, slots=True)
class World:
    scenario: str
    seed: int
    areas: tuple[Area, ...]  # parents before children
    providers: tuple[Provider, ...]
    elders: tuple[Elder, ...]

    @property
    def entitled_visits(self) -> int:
        """Visits a month the elders are entitled to (每月1-2次上门服务)."""
        return sum(e.visits_per_month for e in self.elders)
