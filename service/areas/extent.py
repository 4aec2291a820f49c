"""Where a district lies, roughly: enough to refuse a home that cannot be in its elder's district.

Areas are stored as codes and names only (the NBS division list carries no coordinates). What the
project knows of the map are the outlines of the programmes' districts in seed/places (Guandu 530111
and Haikou's four), drawn by hand 1-3 km inside the real boundary. A home must lie in its district's
outline's bounding box widened by MARGIN_KM: generous on purpose, because a wrong refusal keeps an
elder out of the programme, while the mistakes worth catching are gross ones — 0/0 from a field left
empty, a mistyped or sign-flipped coordinate, an elder filed under the wrong city. A district without
an outline is held to China's extent only, which still refuses 0/0.

Only registry positions (homes, stations) are checked. A device's or a phone's fix is not: a fix
without a signal reports 0/0, and an SOS or a check-in must never be refused for it (the geofence
flags the visit instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from seed.geography import KM_PER_DEG_LAT, SCENARIOS, load_places
from service.errors import Invalid

MARGIN_KM = 5.0


@dataclass(frozen=True)
class Box:
    name: str
    south: float
    north: float
    west: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def __str__(self) -> str:
        return f"{self.name} (lat {self.south:.3f}..{self.north:.3f}, lon {self.west:.3f}..{self.east:.3f})"


# Mainland China, Hainan and the South China Sea islands (Sansha) included.
CHINA = Box("China", 3.5, 53.6, 73.4, 135.1)


def _widened(name: str, outline: tuple[tuple[float, float], ...]) -> Box:
    lats, lons = [lat for lat, _ in outline], [lon for _, lon in outline]
    d_lat = MARGIN_KM / KM_PER_DEG_LAT
    d_lon = MARGIN_KM / (KM_PER_DEG_LAT * math.cos(math.radians(max(abs(min(lats)), abs(max(lats))))))
    return Box(name, min(lats) - d_lat, max(lats) + d_lat, min(lons) - d_lon, max(lons) + d_lon)


@cache
def _districts() -> dict[str, Box]:
    return {county.code: _widened(f"district {county.code} {county.name}", county.outline)
            for scenario in SCENARIOS for county in load_places(scenario).counties}


def district_box(area_code: str) -> Box:
    """The box a home in this area (a county code or any code under it) must lie in."""
    return _districts().get(area_code[:6], CHINA)


def refuse_outside(box: Box, lat: float, lon: float, field: str) -> None:
    if not box.contains(lat, lon):
        raise Invalid.field(field, f"lies outside {box}")
