"""The service catalogue's table: one row per version of an item (服务项目)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import ITEM_PLACES, ITEM_UNITS, SERVICES, sql_in
from service.db import UTCDateTime, utcnow


class CatalogueItem(SQLModel, table=True):
    """One version of an item of a help, in force from `effective_from` until the item's next version.

    A visit is verified by the version in force on its check-in day (Asia/Shanghai): a rule changed from a
    date applies to the visits from that date, never to those before it."""

    __tablename__ = "catalogue_item"
    __table_args__ = (
        UniqueConstraint("code", "effective_from", name="uq_catalogue_item_version"),
        CheckConstraint(sql_in("help", tuple(SERVICES)), name="catalogue_item_help"),
        CheckConstraint(sql_in("unit", ITEM_UNITS), name="catalogue_item_unit"),
        CheckConstraint(sql_in("place", ITEM_PLACES), name="catalogue_item_place"),
        CheckConstraint("min_minutes IS NULL OR min_minutes BETWEEN 1 AND 480", name="catalogue_item_min_minutes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, index=True)
    help: str = Field(max_length=20)
    name: str = Field(max_length=100)
    unit: str = Field(max_length=10)
    min_minutes: int | None = None
    place: str = Field(max_length=10)
    counts_toward_entitlement: bool
    tasks: list[str] = Field(sa_column=Column(JSON, nullable=False))
    effective_from: date
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
