"""Electronic visit verification: one small named rule per exception code.

Each rule looks at the facts of one visit (and, for the caregiver rules, the caregiver's other
visits) and returns its exception code when the visit breaks it, None when it passes. A visit is
verified only when every rule passes. The duration and place rules are the visit's catalogue item's
(service/items): its minimum (none for a meal handed over or a trip) and its place rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geopy.distance import geodesic


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class VisitFacts:
    check_in_at: datetime
    check_in: Point
    check_out_at: datetime
    check_out: Point
    home: Point
    min_minutes: int | None  # None: the item has no minimum
    window_start: datetime
    window_end: datetime
    place: str = "home"  # service.catalogue.ITEM_PLACES
    centres: tuple[Point, ...] = ()  # where a `centre` item may be delivered: the provider's stations


@dataclass(frozen=True)
class OtherVisit:
    """Another visit by the same caregiver."""

    check_in_at: datetime
    check_in: Point
    check_out_at: datetime | None
    check_out: Point | None


def metres(a: Point, b: Point) -> float:
    # Single distances, where accuracy matters more than speed: the ellipsoid, not the sphere.
    return geodesic((a.lat, a.lon), (b.lat, b.lon)).meters


def duration_minutes(facts: VisitFacts) -> float:
    return (facts.check_out_at - facts.check_in_at).total_seconds() / 60


def short_duration(facts: VisitFacts) -> str | None:
    if facts.min_minutes is None:
        return None
    return "short_duration" if duration_minutes(facts) < facts.min_minutes else None


def _within(fixes: tuple[Point, ...], place: Point, geofence_m: float) -> bool:
    return all(metres(fix, place) <= geofence_m for fix in fixes)


def off_site(facts: VisitFacts, geofence_m: float) -> str | None:
    """By the item's place rule: at home and at the door both fixes are at the home; an escort or a trip starts
    at home and may end anywhere; at a centre both fixes are at one of the provider's stations."""
    if facts.place == "centre":
        inside = any(_within((facts.check_in, facts.check_out), centre, geofence_m) for centre in facts.centres)
    elif facts.place == "from_home":
        inside = _within((facts.check_in,), facts.home, geofence_m)
    else:
        inside = _within((facts.check_in, facts.check_out), facts.home, geofence_m)
    return None if inside else "off_site"


def outside_window(facts: VisitFacts) -> str | None:
    # The start decides: a visit begun at 23:30 on the window's last day is inside it.
    inside = facts.window_start <= facts.check_in_at < facts.window_end
    return None if inside else "outside_window"


def overlap(facts: VisitFacts, others: list[OtherVisit]) -> str | None:
    for other in others:
        other_end = other.check_out_at or other.check_in_at
        if other.check_in_at < facts.check_out_at and facts.check_in_at < other_end:
            return "overlap"
    return None


def impossible_travel(facts: VisitFacts, others: list[OtherVisit], max_kmh: float) -> str | None:
    """Consecutive visits closer in time than the road between them allows, in either order."""
    for other in others:
        if other.check_out_at is not None and other.check_out is not None and other.check_out_at <= facts.check_in_at:
            gap_h = (facts.check_in_at - other.check_out_at).total_seconds() / 3600
            km = metres(other.check_out, facts.check_in) / 1000
        elif other.check_in_at >= facts.check_out_at:
            gap_h = (other.check_in_at - facts.check_out_at).total_seconds() / 3600
            km = metres(facts.check_out, other.check_in) / 1000
        else:
            continue  # overlapping visits are the overlap rule's business
        if km > 0.5 and km > max_kmh * gap_h:
            return "impossible_travel"
    return None


def verify(facts: VisitFacts, others: list[OtherVisit], *, geofence_m: float, max_kmh: float) -> list[str]:
    checks = (
        short_duration(facts),
        off_site(facts, geofence_m),
        outside_window(facts),
        overlap(facts, others),
        impossible_travel(facts, others, max_kmh),
    )
    return [code for code in checks if code is not None]
