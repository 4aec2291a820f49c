"""The lifecycle's tables: requests, their assignments, and the providers' monthly quota units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from service.catalogue import CHANNELS, REQUEST_KINDS, URGENCIES, sql_in
from service.db import UTCDateTime, utcnow
from service.lifecycle.transitions import TAKEN_ASSIGNMENT, AssignmentStatus, RequestStatus, in_order

_TAKEN = sql_in("status", in_order(TAKEN_ASSIGNMENT))
_OFFERED = sql_in("status", (AssignmentStatus.OFFERED,))


class ServiceRequest(SQLModel, table=True):
    """One need of one elder (工单): a planned monthly visit or an ad-hoc call or alert."""

    __tablename__ = "service_request"
    __table_args__ = (
        # Running the monthly plan twice can never create a second "visit 1 of December".
        UniqueConstraint("elder_id", "month", "seq", name="uq_planned_request"),
        CheckConstraint(sql_in("urgency", URGENCIES), name="request_urgency"),
        CheckConstraint(sql_in("channel", CHANNELS), name="request_channel"),
        CheckConstraint(sql_in("kind", REQUEST_KINDS), name="request_kind"),
        CheckConstraint(sql_in("status", tuple(RequestStatus)), name="request_status"),
        CheckConstraint("(kind = 'planned') = (seq IS NOT NULL)", name="request_planned_has_seq"),
        Index("ix_request_status_urgency", "status", "urgency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    service: str = Field(max_length=20)
    # The catalogue item (service/items) delivered; NULL (rows before the catalogue, plan rows, alerts): the
    # help's default item (service.catalogue.DEFAULT_ITEMS).
    item: str | None = Field(default=None, max_length=40)
    urgency: str = Field(default="routine", max_length=10)
    kind: str = Field(default="ad_hoc", max_length=10)
    channel: str = Field(default="phone", max_length=10)
    status: str = Field(default=RequestStatus.OPEN.value, max_length=12)
    # An alert's kind (fall, smoke, gas, sos …), for the caregiver and the escalation queue.
    alert_kind: str | None = Field(default=None, max_length=20)
    # Where an alert came from when that is away from home (外出监护): the place to go, and to check in at.
    alert_lat: float | None = None
    alert_lon: float | None = None
    # When an emergency went to the operators' escalation queue (it never goes there twice).
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    month: str = Field(max_length=7, index=True)
    seq: int | None = None
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    planned_date: date | None = None
    note: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    cancel_reason: str | None = Field(default=None, max_length=200)
    # Why the last dispatch decision went the way it did (provider chosen and runner-up, or why nobody).
    explanation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Assignment(SQLModel, table=True):
    """A request offered to one provider (派单), and what became of the offer."""

    __table_args__ = (
        CheckConstraint(sql_in("status", tuple(AssignmentStatus)), name="assignment_status"),
        # At most one accepted offer per request, whatever two providers race to do (an emergency may be
        # offered to several at once: the first to accept takes it, the others' offers are withdrawn).
        Index(
            "uq_assignment_taken_per_request",
            "request_id",
            unique=True,
            postgresql_where=text(_TAKEN),
            sqlite_where=text(_TAKEN),
        ),
        # Never two open offers of one request to one provider.
        Index(
            "uq_assignment_offered_per_provider",
            "request_id",
            "provider_id",
            unique=True,
            postgresql_where=text(_OFFERED),
            sqlite_where=text(_OFFERED),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="service_request.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    status: str = Field(default=AssignmentStatus.OFFERED.value, max_length=10)
    km: float | None = None
    offered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    caregiver: str | None = Field(default=None, max_length=50)
    reason: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class QuotaUsage(SQLModel, table=True):
    """Visits a provider has been given in a month (Asia/Shanghai).

    Taken with a conditional UPDATE that compares against the provider's quota, so two dispatchers
    racing for the last unit cannot both win: the quota holds by the database, not by luck.
    """

    __tablename__ = "quota_usage"
    __table_args__ = (CheckConstraint("used >= 0", name="quota_used_non_negative"),)

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    used: int = 0
