"""Wire types shared by several domains: locations and pages (ids, times and texts: service/validation.py)."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from dispatch.geo import to_wgs84
from service.validation import Body

T = TypeVar("T")


class Location(Body):
    """A point as a client sends it; `coord_sys` defaults to WGS-84 on registry data."""

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
