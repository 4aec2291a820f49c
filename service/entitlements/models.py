from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class EntitlementPolicy(SQLModel, table=True):
    """One version of an area's entitlement policy (服务标准): from `effective_from` to `effective_to`
    (inclusive; open-ended when null), its rules in order (JSON: categories, levels, visits a month,
    services, subsidy cap in fen, co-pay share as text). Periods of one area's versions never overlap."""

    __tablename__ = "entitlement_policy"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="entitlement_policy_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(foreign_key="area.code", max_length=12, index=True)
    name: str = Field(max_length=100)
    effective_from: date
    effective_to: date | None = None
    rules: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
