from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from service.catalogue import COMPLAINT_STATUSES, sql_in
from service.db import UTCDateTime, utcnow


class Complaint(SQLModel, table=True):
    """A complaint ticket: open (no provider concerned) or sent (to the provider) → answered → resolved."""

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint(sql_in("status", COMPLAINT_STATUSES), name="complaint_status"),
        CheckConstraint(
            "status NOT IN ('sent', 'answered') OR provider_id IS NOT NULL", name="complaint_sent_to_provider"
        ),
        # Quality counts a month's complaints per provider; lists show the open ones by age.
        Index("ix_complaint_provider_opened", "provider_id", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    area_code: str = Field(max_length=12, index=True, description="The elder's, when it was opened")
    visit_id: int | None = Field(default=None, foreign_key="visit.id", index=True)
    follow_up_id: int | None = Field(default=None, foreign_key="follow_up.id", unique=True)
    call_id: int | None = Field(default=None, foreign_key="call_record.id")
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    text: str = Field(max_length=1000)
    status: str = Field(max_length=10, index=True)
    opened_by: str = Field(max_length=100)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    answer: str | None = Field(default=None, max_length=1000)
    answered_by: str | None = Field(default=None, max_length=100)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = Field(default=None, max_length=1000)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
