from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import VISIT_STATUSES, sql_in
from service.db import UTCDateTime, utcnow


class Visit(SQLModel, table=True):
    """What happened at the elder's home (上门服务记录), and whether it passed verification."""

    __table_args__ = (
        # A phone retrying an upload on a bad network must never create a second visit.
        UniqueConstraint("provider_id", "client_visit_id", name="uq_visit_client_id"),
        UniqueConstraint("assignment_id", name="uq_visit_assignment"),
        CheckConstraint(sql_in("status", VISIT_STATUSES), name="visit_status"),
        CheckConstraint("check_out_at IS NULL OR check_out_at >= check_in_at", name="visit_times"),
        CheckConstraint(
            "check_in_lat BETWEEN -90 AND 90 AND check_in_lon BETWEEN -180 AND 180", name="visit_check_in_location"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    provider_id: int = Field(foreign_key="provider.id", index=True)
    # The elder visited (also reachable through assignment and request): kept on the visit so that the
    # monthly reports group a month's visits by area without joining two history-sized tables.
    elder_id: int = Field(foreign_key="elder.id", index=True)
    client_visit_id: str = Field(max_length=36)
    caregiver: str | None = Field(default=None, max_length=50)
    check_in_at: datetime = Field(sa_type=UTCDateTime, index=True)
    check_in_lat: float
    check_in_lon: float
    check_in_distance_m: float | None = None
    check_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    check_out_lat: float | None = None
    check_out_lon: float | None = None
    check_out_distance_m: float | None = None
    tasks: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=500)
    duration_minutes: float | None = None
    status: str = Field(default="in_progress", max_length=12)
    exceptions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowUp(SQLModel, table=True):
    """The call centre's call to the elder after a visit (回访)."""

    __tablename__ = "follow_up"
    __table_args__ = (CheckConstraint("satisfaction BETWEEN 1 AND 5", name="follow_up_satisfaction"),)

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", unique=True)
    satisfaction: int
    complaint: str | None = Field(default=None, max_length=1000)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
