"""The place data of a scenario (`seed/places/*.json`) as frozen objects, and the plane geometry the
generators and tests need: point in a district outline, and how far a point is from its edge.

Outlines are small hand-drawn polygons (a few dozen vertices) in WGS-84; at city scale a local
equirectangular projection is accurate to well under a metre per kilometre, which is all we need.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from service.areas.extent import KM_PER_DEG_LAT

PLACES_DIR = Path(__file__).parent / "places"
SCENARIOS = ("guandu", "haikou")

Outline = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Community:
    code: str
    name: str
    lat: float
    lon: float
    weight: float
    spread_km: float

    @property
    def is_village(self) -> bool:
        return self.name.endswith("村")


@dataclass(frozen=True, slots=True)
class Street:
    code: str
    name: str
    lat: float
    lon: float
    communities: tuple[Community, ...]


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str
    city_name: str
    outline: Outline
    id_region_codes: tuple[tuple[str, float], ...]  # ID-number prefixes and their shares
    streets: tuple[Street, ...]


@dataclass(frozen=True, slots=True)
class Centre:
    """A care centre that a provider runs as its station."""

    name: str
    kind: str
    community: str
    lat: float
    lon: float
    operator: str


@dataclass(frozen=True, slots=True)
class Contract:
    """What a provider organisation is contracted for, before quotas are computed from demand."""

    name: str
    streets: tuple[str, ...]
    services: tuple[str, ...]
    contract_start: str
    contract_end: str


@dataclass(frozen=True, slots=True)
class Places:
    scenario: str
    city: tuple[str, str] | None
    counties: tuple[County, ...]
    centres: tuple[Centre, ...]
    contracts: tuple[Contract, ...]
    water: tuple[Outline, ...]
    water_points: tuple[tuple[float, float], ...]

    def streets(self) -> list[tuple[County, Street]]:
        return [(county, street) for county in self.counties for street in county.streets]

    def communities(self) -> list[tuple[County, Street, Community]]:
        return [(c, s, m) for c, s in self.streets() for m in s.communities]

    def county_of(self, code: str) -> County:
        return next(c for c in self.counties if code.startswith(c.code))


@cache
def load_places(scenario: str) -> Places:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    raw = json.loads((PLACES_DIR / f"{scenario}.json").read_text(encoding="utf-8"))
    counties = tuple(
        County(
            code=c["code"],
            name=c["name"],
            city_name=c["city_name"],
            outline=_outline(c["outline"]),
            id_region_codes=tuple(c["id_region_codes"].items()),
            streets=tuple(
                Street(s["code"], s["name"], s["lat"], s["lon"], tuple(Community(**m) for m in s["communities"]))
                for s in c["streets"]
            ),
        )
        for c in raw["counties"]
    )
    city = (raw["city"]["code"], raw["city"]["name"]) if raw["city"] else None
    return Places(
        scenario=scenario,
        city=city,
        counties=counties,
        centres=tuple(Centre(**c) for c in raw["centres"]),
        contracts=tuple(
            Contract(p["name"], tuple(p["streets"]), tuple(p["services"]), p["contract_start"], p["contract_end"])
            for p in raw["providers"]
        ),
        water=tuple(_outline(w["outline"]) for w in raw["water"]),
        water_points=tuple((lat, lon) for lat, lon in raw["water_points"]),
    )


def _outline(points: list[list[float]]) -> Outline:
    return tuple((float(lat), float(lon)) for lat, lon in points)


def inside(lat: float, lon: float, outline: Outline) -> bool:
    """Ray casting: a point on the far side of an odd number of edges is inside."""
    hit = False
    a_lat, a_lon = outline[-1]
    for b_lat, b_lon in outline:
        crosses = (a_lat > lat) != (b_lat > lat)
        if crosses and lon < a_lon + (lat - a_lat) * (b_lon - a_lon) / (b_lat - a_lat):
            hit = not hit
        a_lat, a_lon = b_lat, b_lon
    return hit


def edge_distance_km(lat: float, lon: float, outline: Outline) -> float:
    """Distance from a point to the nearest edge of an outline (inside or outside)."""
    kx = KM_PER_DEG_LAT * math.cos(math.radians(lat))
    best = math.inf
    a_lat, a_lon = outline[-1]
    for b_lat, b_lon in outline:
        ax, ay = (a_lon - lon) * kx, (a_lat - lat) * KM_PER_DEG_LAT
        dx, dy = (b_lon - a_lon) * kx, (b_lat - a_lat) * KM_PER_DEG_LAT
        t = max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
        a_lat, a_lon = b_lat, b_lon
    return best
