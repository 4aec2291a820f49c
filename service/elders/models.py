from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from service.catalogue import ELDER_STATUSES, sql_in
from service.db import UTCDateTime, utcnow


class Elder(SQLModel, table=True):
    """A person entitled to home care, with the home the caregivers visit (WGS-84)."""

    __table_args__ = (
        CheckConstraint("visits_per_month BETWEEN 0 AND 2", name="elder_visits_per_month"),
        CheckConstraint("min_minutes BETWEEN 1 AND 480", name="elder_min_minutes"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="elder_lat"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="elder_lon"),
        CheckConstraint(sql_in("status", ELDER_STATUSES), name="elder_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, index=True)
    id_number: str = Field(max_length=18, unique=True)
    phone: str = Field(max_length=11, index=True)
    address: str = Field(max_length=200)
    lat: float
    lon: float
    area_code: str = Field(foreign_key="area.code", index=True, max_length=12)
    visits_per_month: int = 1
    min_minutes: int = 60
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preferred_weekdays: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    living_alone: bool = False
    device_id: str | None = Field(default=None, max_length=64, unique=True)
    last_provider_id: int | None = Field(default=None, foreign_key="provider.id")
    status: str = Field(default="active", max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
