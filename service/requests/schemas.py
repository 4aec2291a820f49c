from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.catalogue import ServiceCode, Urgency
from service.schemas import AwareDatetime, Location


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    elder_id: int = Field(ge=1)
    service: ServiceCode
    urgency: Urgency = "routine"
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    channel: Literal["phone", "one_touch", "app"] = "phone"
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _window_order(self) -> RequestCreate:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)


AlertKind = Literal["sos", "fall", "smoke", "gas", "water", "inactivity", "health", "other"]


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    elder_id: int | None = Field(default=None, ge=1)
    kind: AlertKind
    at: AwareDatetime
    location: Location | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> AlertCreate:
        if (self.device_id is None) == (self.elder_id is None):
            raise ValueError("give exactly one of device_id and elder_id")
        return self


class AssignmentPublic(BaseModel):
    id: int
    provider_id: int
    status: str
    offered_at: datetime
    expires_at: datetime | None
    responded_at: datetime | None
    caregiver: str | None
    reason: str | None
    km: float | None


class VisitSummary(BaseModel):
    id: int
    status: str
    check_in_at: datetime
    check_out_at: datetime | None
    duration_minutes: float | None
    exceptions: list[str]


class TimelineEntry(BaseModel):
    status: str
    at: datetime
    by: str


class RequestPublic(BaseModel):
    id: int
    elder_id: int
    service: str
    urgency: str
    kind: str
    channel: str
    status: str
    month: str
    seq: int | None
    window_start: datetime | None
    window_end: datetime | None
    planned_date: date | None
    note: str | None
    attempts: int
    cancel_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class RequestDetail(RequestPublic):
    assignments: list[AssignmentPublic] = Field(description="Assignment history, newest last")
    visit: VisitSummary | None
    timeline: list[TimelineEntry] = Field(description="Every status change")


class Explanation(BaseModel):
    request_id: int
    status: str
    decision: dict[str, Any] | None = Field(description="The engine's reasons for the last dispatch decision")
