"""The provider API's JSON as typed objects, written from the contract (docs/api.md § Provider app).

These mirror the service's responses without importing them: a provider organisation runs this
package on its own machines. Unknown fields are ignored, because the contract lets the service add
fields; times must carry an offset, because the service refuses naive ones and a phone's local
clock is not evidence of when a visit happened.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from providers.errors import Problem

CoordSys = Literal["wgs84", "gcj02"]


class NaiveTimeError(ValueError):
    """A datetime without a UTC offset was given where the service needs an absolute time."""


def require_aware(moment: datetime, name: str = "time") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveTimeError(
            f"{name} {moment.isoformat()} has no UTC offset; pass a timezone-aware datetime, "
            "e.g. datetime.now(UTC) or one with ZoneInfo('Asia/Shanghai')"
        )
    return moment


AwareTime = Annotated[datetime, AfterValidator(require_aware)]


# --- what the service sends -------------------------------------------------------------------


class Location(BaseModel):
    lat: float
    lon: float
    coord_sys: str = "wgs84"


class ElderAtHome(BaseModel):
    """Just enough of the elder to make the visit; the phone number comes masked."""

    name: str
    phone: str
    address: str
    location: Location


class Assignment(BaseModel):
    id: int
    request_id: int
    status: str = Field(description="offered | accepted | declined | expired | cancelled | completed")
    service: str
    urgency: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    planned_date: date | None = None
    offered_at: datetime | None = None
    expires_at: datetime | None = None
    caregiver: str | None = None
    km: float | None = None
    updated_at: datetime | None = None
    elder: ElderAtHome | None = Field(default=None, description="None once declined, expired or cancelled")


class AssignmentPage(BaseModel):
    items: list[Assignment]
    next_cursor: str | None


class Fix(BaseModel):
    at: datetime
    location: Location
    distance_m: float | None = None


class Verification(BaseModel):
    status: str = Field(description="in_progress | verified | exception")
    exceptions: list[str]


class Visit(BaseModel):
    id: int
    assignment_id: int
    request_id: int
    client_visit_id: UUID
    caregiver: str | None = None
    check_in: Fix
    check_out: Fix | None = None
    tasks: list[str] = []
    note: str | None = None
    duration_minutes: float | None = None
    verification: Verification
    created_at: datetime | None = None


class VisitPage(BaseModel):
    items: list[Visit]
    next_cursor: str | None


class Identity(BaseModel):
    """What GET /api/v1/me says about the token."""

    token_id: int
    name: str
    role: str
    provider_id: int | None = None
    area_code: str | None = None


class BatchResult(BaseModel):
    index: int
    client_visit_id: str | None = None
    ok: bool
    visit: Visit | None = None
    error: Problem | None = None


class BatchResponse(BaseModel):
    results: list[BatchResult]


# --- what the app sends -------------------------------------------------------------------------


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    coord_sys: CoordSys


class CheckInRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareTime
    location: Position


class CheckOutRecord(CheckInRecord):
    tasks: list[str] = Field(min_length=1, max_length=8)
    note: str | None = Field(default=None, max_length=500)


class VisitRecord(BaseModel):
    """One visit as a phone kept it while offline: its check-in, and its check-out once done."""

    model_config = ConfigDict(extra="forbid")

    assignment_id: int = Field(ge=1)
    client_visit_id: UUID
    check_in: CheckInRecord
    check_out: CheckOutRecord | None = None
