from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import SERVICES, sql_in
from service.db import UTCDateTime, utcnow


class MonthClose(SQLModel, table=True):
    """A month signed off for one area (月度关账): its summary and settlement as they stood, frozen.

    The frozen documents are what was signed and forwarded; corrections that arrive later are listed
    as amendments in the next report instead of silently changing this one.
    """

    __tablename__ = "month_close"
    __table_args__ = (UniqueConstraint("area_code", "month", name="uq_month_close_area_month"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(foreign_key="area.code", max_length=12, index=True)
    month: str = Field(max_length=7)
    closed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_by: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    settlement: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ServicePrice(SQLModel, table=True):
    """One version of the unit price the government pays per verified visit of a service.

    Versions are only ever added, never edited: a month is always settled at the prices that were in
    effect on the days of its visits, so a mid-year change cannot rewrite what was already paid.
    """

    __tablename__ = "service_price"
    __table_args__ = (
        UniqueConstraint("service", "effective_from", name="uq_service_price_version"),
        CheckConstraint(sql_in("service", tuple(SERVICES)), name="service_price_service"),
        CheckConstraint("unit_price_fen >= 0", name="service_price_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=20)
    effective_from: date = Field(description="First local (Asia/Shanghai) day the price applies")
    unit_price_fen: int = Field(description="Price per verified visit in fen (0.01 yuan): exact money")
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
