"""Where a district lies, roughly: enough to refuse a home that cannot be in its elder's district.

Areas are stored as codes and names only (the NBS division list carries no coordinates). What the
service knows of the map is DISTRICTS below: the bounding boxes of the programmes' district outlines
(Guandu 530111 and Haikou's four), which seed/places draws by hand 1-3 km inside the real boundary
(tests/service/test_validation.py keeps the two equal; the server does not ship the seed data). A home
must lie in its district's box widened by MARGIN_KM: generous on purpose, because a wrong refusal keeps an
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

from service.errors import Invalid

MARGIN_KM = 5.0
KM_PER_DEG_LAT = 111.2

# code, name, and the outline's south, north, west and east (WGS-84 degrees).
DISTRICTS = (
    ("530111", "官渡区", 24.903, 25.17, 102.698, 103.0),
    ("460105", "秀英区", 19.74, 20.028, 110.1, 110.285),
    ("460106", "龙华区", 19.76, 20.047, 110.272, 110.37),
    ("460107", "琼山区", 19.54, 20.017, 110.344, 110.64),
    ("460108", "美兰区", 19.76, 20.068, 110.312, 110.665),
)


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


def _widened(name: str, south: float, north: float, west: float, east: float) -> Box:
    d_lat = MARGIN_KM / KM_PER_DEG_LAT
    d_lon = MARGIN_KM / (KM_PER_DEG_LAT * math.cos(math.radians(max(abs(south), abs(north)))))
    return Box(name, south - d_lat, north + d_lat, west - d_lon, east + d_lon)


@cache
def _districts() -> dict[str, Box]:
    return {code: _widened(f"district {code} {name}", *bounds) for code, name, *bounds in DISTRICTS}


def district_box(area_code: str) -> Box:
    """The box a home in this area (a county code or any code under it) must lie in."""
    return _districts().get(area_code[:6], CHINA)


def refuse_outside(box: Box, lat: float, lon: float, field: str) -> None:
    if not box.contains(lat, lon):
        raise Invalid.field(field, f"lies outside {box}")
