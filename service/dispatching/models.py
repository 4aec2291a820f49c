from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class DispatchPlan(SQLModel, table=True):
    """One month's batch plan: its state and the summary regulators read."""

    __tablename__ = "dispatch_plan"
    __table_args__ = (CheckConstraint("state IN ('running', 'done', 'failed')", name="plan_state"),)

    month: str = Field(primary_key=True, max_length=7)
    state: str = Field(default="running", max_length=10)
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, max_length=500)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
