from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from service.catalogue import ServiceCode, Urgency
from service.db import utcnow
from service.elders.schemas import DeviceId
from service.items.service import ItemCode
from service.schemas import Location
from service.validation import Body, DbId, Moment, Text

# Operators book help for the coming days or weeks. A window more than a year ahead is a mistyped year,
# and would wait in the queue as a request of a month nobody plans.
FURTHEST_AHEAD = timedelta(days=366)


class RequestCreate(Body):
    elder_id: DbId
    service: ServiceCode
    item: ItemCode | None = Field(
        default=None,
        description=("The catalogue item of the help (GET /api/v1/catalogue/items); none: the help's default item"),
    )
    urgency: Urgency = "routine"
    window_start: Moment | None = None
    window_end: Moment | None = None
    channel: Literal["phone", "one_touch", "app"] = "phone"
    note: Text | None = Field(default=None, max_length=500)

    @field_validator("window_start", "window_end")
    @classmethod
    def _not_far_ahead(cls, moment: datetime | None) -> datetime | None:
        if moment is not None and moment > utcnow() + FURTHEST_AHEAD:
            raise ValueError(f"must not be more than {FURTHEST_AHEAD.days} days ahead")
        return moment

    @model_validator(mode="after")
    def _window_order(self) -> RequestCreate:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class CancelBody(Body):
    reason: Text = Field(min_length=1, max_length=200)


AlertKind = Literal["sos", "fall", "smoke", "gas", "water", "inactivity", "health", "other"]


class AlertCreate(Body):
    device_id: DeviceId | None = None
    elder_id: DbId | None = None
    kind: AlertKind
    at: Moment = Field(description="When the device raised it; not in the future (beyond the clock skew)")
    # The device's fix is not checked against the elder's district: a button pressed without a GPS fix
    # reports 0/0, and an SOS must never be refused for it.
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
    item: str | None = Field(default=None, description="The catalogue item; null: the help's default item")
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
    alert_kind: str | None = Field(default=None, description="An alert's kind (fall, smoke, gas, sos …)")
    alert_lat: float | None = Field(default=None, description="An alert away from home (外出监护): where (WGS-84)")
    alert_lon: float | None = None
    escalated_at: datetime | None = Field(default=None, description="When it went to the escalation queue")
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
