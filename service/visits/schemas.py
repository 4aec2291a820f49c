from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.catalogue import ServiceCode
from service.elders.schemas import _distinct
from service.schemas import AwareDatetime, DeviceLocation, StoredLocation


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    location: DeviceLocation


class CheckOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    location: DeviceLocation
    tasks: Annotated[list[ServiceCode], AfterValidator(_distinct)] = Field(min_length=1, max_length=8)
    note: str | None = Field(default=None, max_length=500)


class VisitStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignment_id: int = Field(ge=1)
    client_visit_id: UUID
    check_in: CheckIn


class BatchItem(VisitStart):
    """One visit as a phone recorded it offline: its check-in, and its check-out if it has one."""

    check_out: CheckOut | None = None


class VisitBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visits: list[BatchItem] = Field(min_length=1, max_length=200)


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
