"""Wire types shared by several domains: locations, aware times, pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dispatch.geo import to_wgs84

T = TypeVar("T")


def _require_offset(value: datetime) -> datetime:
    """Refuse a time without an offset; keep every accepted one in UTC, as the database does."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset, e.g. 2026-12-03T09:30:00+08:00")
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_require_offset)]


class Location(BaseModel):
    """A point as a client sends it; `coord_sys` defaults to WGS-84 on registry data."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    coord_sys: Literal["wgs84", "gcj02"] = "wgs84"

    def wgs84(self) -> tuple[float, float]:
        return to_wgs84(self.lat, self.lon, self.coord_sys)


class DeviceLocation(Location):
    """A phone's fix at check-in or check-out: the coordinate system must be stated."""

    coord_sys: Literal["wgs84", "gcj02"]


class StoredLocation(BaseModel):
    lat: float
    lon: float
    coord_sys: Literal["wgs84"] = "wgs84"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
