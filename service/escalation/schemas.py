"""The escalation queue, a request's ranked candidates, and an operator's assignment."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.validation import Body, DbId, Text


class Contact(BaseModel):
    name: str
    relation: str
    phone: str
    guardian: bool


class OpenOffer(BaseModel):
    assignment_id: int
    provider_id: int
    km: float | None
    offered_at: datetime
    expires_at: datetime | None


class Escalation(BaseModel):
    request_id: int
    status: str = Field(description="`escalated` (an emergency) or `unassignable` (any urgency)")
    urgency: str
    service: str
    alert_kind: str | None = Field(description="fall, smoke, gas, sos …; null for a request not from an alert")
    alarm_at: datetime = Field(description="When the alarm came in (the request was created)")
    waiting_s: int = Field(description="Seconds since the alarm, at the time of the answer")
    escalated_at: datetime | None
    elder_id: int
    elder_name: str
    elder_phone: str
    address: str
    living_alone: bool
    note: str | None
    contacts: list[Contact] = Field(description="Family, guardians and neighbours to phone, guardians first")
    open_offers: list[OpenOffer] = Field(description="Offers still open: the first provider to accept takes it")
    explanation: dict | None = Field(description="The last dispatch decision (why nobody, or the error)")


class EscalationQueue(BaseModel):
    items: list[Escalation] = Field(description="Oldest alarm first")


class Candidate(BaseModel):
    rank: int
    provider_id: int
    provider_name: str
    km: float
    offered: bool = Field(description="It holds an open offer of this request now")


class PassedBy(BaseModel):
    provider_id: int
    km: float
    reason: str = Field(
        description="The engine's rule (area_not_contracted, service_not_offered, too_far, quota_exhausted, declined …)"
    )
    detail: str


class Candidates(BaseModel):
    request_id: int
    status: str
    urgency: str
    candidates: list[Candidate] = Field(description="Eligible providers, nearest (the engine's choice) first")
    passed_by: list[PassedBy] = Field(
        description="Providers nearer than the last candidate the engine may not use, with its reason"
    )


class AssignBody(Body):
    provider_id: DbId
    reason: Text = Field(min_length=1, max_length=200)
    override: bool = Field(
        default=False,
        description="Emergencies only: assign a provider outside normal reach "
        "(suspended, another service, out of area or quota)",
    )
