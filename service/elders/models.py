from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import ABILITY_LEVELS, CONTACT_RELATIONS, ELDER_STATUSES, RECORDED_CATEGORIES, sql_in
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
    # Set: `visits_per_month` is an operator's override of the entitlement policy, for this reason.
    visits_override_reason: str | None = Field(default=None, max_length=200)
    min_minutes: int = 60
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preferred_weekdays: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    living_alone: bool = False
    device_id: str | None = Field(default=None, max_length=64, unique=True)
    last_provider_id: int | None = Field(default=None, foreign_key="provider.id")
    status: str = Field(default="active", max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ElderCategory(SQLModel, table=True):
    """A category the elder belongs to (独居, 空巢, 低保, 特困, 优抚), from `since`, as `source` recorded it.

    The age groups (高龄 80+, 百岁 100+) are not recorded: they follow from the ID number's birth date.
    """

    __tablename__ = "elder_category"
    __table_args__ = (
        UniqueConstraint("elder_id", "category", name="uq_elder_category"),
        CheckConstraint(sql_in("category", tuple(RECORDED_CATEGORIES)), name="elder_category_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    category: str = Field(max_length=20)
    since: date = Field(description="First local day the category applies")
    source: str = Field(max_length=200)
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ElderContact(SQLModel, table=True):
    """A family member, guardian or neighbour to call about the elder."""

    __tablename__ = "elder_contact"
    __table_args__ = (CheckConstraint(sql_in("relation", CONTACT_RELATIONS), name="elder_contact_relation"),)

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    name: str = Field(max_length=50)
    relation: str = Field(max_length=20)
    phone: str = Field(max_length=11)
    guardian: bool = False
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AbilityAssessment(SQLModel, table=True):
    """An ability assessment per GB/T 42195-2022: its level, when, by whom, when it is due again.

    Assessments are only added: the one in effect for a month is the latest made on or before its first day.
    """

    __tablename__ = "ability_assessment"
    __table_args__ = (
        CheckConstraint(sql_in("level", tuple(ABILITY_LEVELS)), name="ability_assessment_level"),
        CheckConstraint("next_review_on > assessed_on", name="ability_assessment_review_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    level: str = Field(max_length=10)
    assessed_on: date
    assessor: str = Field(max_length=100)
    next_review_on: date
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
