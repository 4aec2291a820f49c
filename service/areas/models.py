from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import AREA_LEVELS, sql_in


class Area(SQLModel, table=True):
    """A node of the administrative division tree (行政区划): city, county, street, community.

    A code's prefix selects everything below it, so a regulator bound to a street code sees its
    communities' elders.
    """

    __table_args__ = (
        CheckConstraint(sql_in("level", AREA_LEVELS), name="area_level"),
        CheckConstraint("length(code) IN (6, 9, 12)", name="area_code_length"),
    )

    code: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=100)
    level: str = Field(max_length=10)
    parent_code: str | None = Field(default=None, foreign_key="area.code", index=True, max_length=12)
