"""The monthly supervision summary (监管月报) as JSON: English field names, figures defined once here."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.calls.schemas import CallFigures

SHA256_OF = (
    "SHA-256 of the document's canonical JSON (keys sorted, no spaces, UTF-8) without "
    "`generated_at` and `sha256`: the same figures give the same digest, in every format"
)


class AreaRef(BaseModel):
    code: str | None = Field(description="None: every area")
    name: str


class Closure(BaseModel):
    closed_at: datetime
    closed_by: str


class ElderFigures(BaseModel):
    entitled: int = Field(description="Active elders entitled to 1-2 visits a month")
    served: int = Field(description="Entitled elders with at least one verified visit in the month")
    coverage_rate: float | None = Field(description="served / entitled")


class VisitFigures(BaseModel):
    entitled: int = Field(description="Visits the entitled elders are owed this month")
    planned: int = Field(description="Planned requests made for the month")
    planned_completed: int = Field(description="Planned requests of the month whose visit was checked out")
    completion_rate: float | None = Field(description="planned_completed / planned")
    completed: int = Field(description="Visits (planned or not) checked in during the month and checked out")
    verified: int = Field(description="Visits checked in during the month that passed verification")
    verified_rate: float | None = Field(description="verified / completed")
    missed: int = Field(description="Planned requests nobody started before the month ended")
    ad_hoc_requests: int = Field(description="Calls and alerts made for the month")


class ExceptionCount(BaseModel):
    code: str
    label: str
    visits: int


class ExceptionFigures(BaseModel):
    total: int = Field(description="Visits that failed verification (one visit may break several rules)")
    by_code: list[ExceptionCount]


class DurationFigures(BaseModel):
    timed_visits: int
    median_minutes: float | None
    mean_minutes: float | None
    share_at_least_60: float | None


class EmergencyFigures(BaseModel):
    requests: int
    answered: int = Field(description="Emergency requests a caregiver checked in for")
    response_p50_minutes: float | None = Field(description="From the call to the caregiver's check-in")
    response_p90_minutes: float | None


class FollowUpFigures(BaseModel):
    count: int
    mean_satisfaction: float | None = Field(description="1 (very unhappy) to 5 (very satisfied)")
    complaints: int


class CategoryRow(BaseModel):
    category: str = Field(
        description="A recorded category (living_alone, empty_nest, dibao, tekun, youfu) or "
        "an age group derived from the ID number (aged_80, aged_100)"
    )
    label: str
    elders: int = Field(description="Active elders of the area in the category on the month's first day")
    served: int = Field(description="Elders of the category with at least one verified visit in the month")


class ElderGroupFigures(BaseModel):
    """The statistics Haikou publishes: the 80+, 100+ and living-alone elders served, and every category."""

    aged_80_served: int = Field(description="Elders aged 80 or more on the month's first day, served")
    aged_100_served: int = Field(description="Elders aged 100 or more on the month's first day, served")
    living_alone_served: int = Field(description="Elders living alone (独居), served")
    by_category: list[CategoryRow]


class ProviderRow(BaseModel):
    provider_id: int
    name: str
    visits: int
    verified: int
    verified_rate: float | None
    exceptions: int
    quota: int
    quota_used: int = Field(description="The provider's quota taken this month, across all areas")
    quota_use_rate: float | None
    follow_ups: int
    mean_satisfaction: float | None


class StreetRow(BaseModel):
    code: str
    name: str
    entitled: int
    served: int
    coverage_rate: float | None


class Change(BaseModel):
    figure: str
    label: str
    current: int | float | None
    previous: int | float | None
    delta: int | float | None


class Amendment(BaseModel):
    """A correction to a closed month that arrived after it was closed (a late upload, a late call)."""

    month: str
    kind: Literal["visit", "follow_up"]
    visit_id: int
    provider_id: int
    status: str
    exceptions: list[str]
    satisfaction: int | None
    recorded_at: datetime


class MonthlySummary(BaseModel):
    title: str = "监管月报"
    area: AreaRef
    month: str
    timezone: str
    generated_at: datetime
    status: Literal["open", "closed"]
    closure: Closure | None
    elders: ElderFigures
    visits: VisitFigures
    exceptions: ExceptionFigures
    duration: DurationFigures
    emergencies: EmergencyFigures
    follow_ups: FollowUpFigures
    elder_groups: ElderGroupFigures | None = Field(
        default=None, description="By elder category; null in summaries signed before categories were kept"
    )
    calls: CallFigures | None = Field(
        default=None,
        description=(
            "The 12349 calls by type and the complaints (absent from summaries closed before they were counted)"
        ),
    )
    providers: list[ProviderRow]
    streets: list[StreetRow] = Field(description="Worst coverage first: the equity view")
    change: list[Change] = Field(description="Against the previous month")
    amendments: list[Amendment] = Field(description="Corrections to earlier closed months, made this month")
    sha256: str = Field(description=SHA256_OF)
