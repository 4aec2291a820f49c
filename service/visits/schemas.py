from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, Strict

from service.catalogue import ServiceCode
from service.schemas import DeviceLocation, StoredLocation
from service.validation import Body, DbId, Moment, Text, distinct


# A phone's times (`at`) lie in the plausible years (Moment) and, as the service checks, not in the
# future beyond the clock skew allowed, nor before the start of the request's month.
class CheckIn(Body):
    at: Moment
    location: DeviceLocation


class CheckOut(Body):
    at: Moment
    location: DeviceLocation
    tasks: Annotated[list[ServiceCode], AfterValidator(distinct)] = Field(min_length=1, max_length=8)
    note: Text | None = Field(default=None, max_length=500)


class VisitStart(Body):
    assignment_id: DbId
    client_visit_id: Annotated[UUID, Strict(False)] = Field(description="The phone's own id of the visit")
    check_in: CheckIn


class BatchItem(VisitStart):
    """One visit as a phone recorded it offline: its check-in, and its check-out if it has one."""

    check_out: CheckOut | None = None


class Fix(BaseModel):
    at: datetime
    location: StoredLocation
    distance_m: float | None = Field(description="From the elder's home")


class Verification(BaseModel):
    status: str = Field(description="in_progress | verified | exception")
    exceptions: list[str]


class VisitPublic(BaseModel):
    id: int
    assignment_id: int
    request_id: int
    client_visit_id: str
    caregiver: str | None
    check_in: Fix
    check_out: Fix | None
    tasks: list[str]
    note: str | None
    duration_minutes: float | None
    verification: Verification
    created_at: datetime


class BatchResult(BaseModel):
    index: int
    client_visit_id: str | None
    ok: bool
    visit: VisitPublic | None = None
    error: dict[str, Any] | None = Field(default=None, description="problem+json of the item that failed")


class BatchResponse(BaseModel):
    results: list[BatchResult]
