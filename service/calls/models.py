from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from service.catalogue import CALL_OUTCOMES, CALL_TYPES, sql_in
from service.db import UTCDateTime, utcnow


class CallRecord(SQLModel, table=True):
    """One call of the 12349 line: an elder's (or a family's) call taken, or a call made by an operator."""

    __tablename__ = "call_record"
    __table_args__ = (
        CheckConstraint(sql_in("type", CALL_TYPES), name="call_type"),
        CheckConstraint(sql_in("outcome", CALL_OUTCOMES), name="call_outcome"),
        CheckConstraint("elder_id IS NOT NULL OR phone IS NOT NULL", name="call_who"),
        # Proactive care asks "when was this elder last reached?"; reports count a month's calls.
        Index("ix_call_record_elder_at", "elder_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int | None = Field(default=None, foreign_key="elder.id")
    phone: str | None = Field(default=None, max_length=11, description="The caller's number when no elder is known")
    area_code: str | None = Field(default=None, max_length=12, index=True, description="The elder's, when known")
    type: str = Field(max_length=12)
    outcome: str = Field(max_length=20)
    request_id: int | None = Field(default=None, foreign_key="service_request.id")
    callback_of: int | None = Field(default=None, foreign_key="call_record.id", index=True)
    note: str | None = Field(default=None, max_length=500)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
