from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from service.catalogue import PROVIDER_STATUSES, sql_in
from service.db import UTCDateTime, utcnow


class Provider(SQLModel, table=True):
    """A contracted care organisation (服务提供商): what it may do, where, and how much a month."""

    __table_args__ = (
        CheckConstraint("monthly_quota >= 0", name="provider_quota"),
        CheckConstraint("contract_end >= contract_start", name="provider_contract_window"),
        CheckConstraint(sql_in("status", PROVIDER_STATUSES), name="provider_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    monthly_quota: int
    contract_start: date
    contract_end: date
    status: str = Field(default="active", max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Station(SQLModel, table=True):
    """A provider's base (服务站 / 社区居家养老服务中心), where its caregivers set out from."""

    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="station_lat"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="station_lon"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    lat: float
    lon: float


class ProviderArea(SQLModel, table=True):
    """An area (usually a street) a provider is contracted for; the code's prefix covers below it."""

    __tablename__ = "provider_area"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True, ondelete="CASCADE")
    area_code: str = Field(foreign_key="area.code", primary_key=True, max_length=12, index=True)


class Caregiver(SQLModel, table=True):
    """A provider's staff member who makes visits (护理员)."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=50)
    phone: str | None = Field(default=None, max_length=11)
    active: bool = True
