from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """The first response to an Idempotency-Key, replayed to any retry with the same body."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("principal", "key", name="uq_idempotency_key"),
        CheckConstraint("state IN ('running', 'done')", name="idempotency_state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=40)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="running", max_length=10)
    status_code: int | None = None
    response: Any = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
