"""The hard rules of docs/dispatch.md, one small function each.

Each returns None when the rule holds and a `Reason` when it rejects, so that "why not this
provider" and "why nobody" come from the same code that decides. The optimiser applies the same
rules in bulk on arrays (dispatch/reach.py); tests hold the two to agreement.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dispatch.geo import haversine_km
from dispatch.model import Elder, Policy, Provider

EMERGENCY = "emergency"


@dataclass(frozen=True)
class Reason:
    rule: str  # stable code, e.g. "service_not_offered"
    detail: str  # for people: operators and regulators

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def offers_services(provider: Provider, elder: Elder) -> Reason | None:
    missing = elder.services - provider.services
    if missing:
        return Reason("service_not_offered", f"{provider.id} does not offer {', '.join(sorted(missing))}")
    return None


def contracted_area(provider: Provider, elder: Elder) -> Reason | None:
    """A provider contracted for an area code serves everything below it (a prefix)."""
    if any(elder.area.startswith(area) for area in provider.areas):
        return None
    return Reason("area_not_contracted", f"{provider.id} is not contracted for area {elder.area}")


def nearest_station_km(provider: Provider, lat: float, lon: float) -> float:
    """Caregivers start from the provider's nearest station."""
    return min(haversine_km(s.lat, s.lon, lat, lon) for s in provider.stations)


def within_reach(km: float, policy: Policy) -> Reason | None:
    if km <= policy.max_km:
        return None
    return Reason("too_far", f"{km:.2f} km from the nearest station, more than {policy.max_km:g} km")


def has_quota(provider: Provider, visits_left: int, visits: int) -> Reason | None:
    if visits <= visits_left:
        return None
    return Reason("quota_exhausted", f"{provider.id} has {visits_left} of {provider.quota} visits left, needs {visits}")


def offers_emergency(provider: Provider, urgency: str) -> Reason | None:
    if urgency != EMERGENCY or EMERGENCY in provider.services:
        return None
    return Reason("no_emergency_service", f"{provider.id} does not offer emergency service")


def not_declined(provider: Provider, declined: Collection[str]) -> Reason | None:
    if provider.id not in declined:
        return None
    return Reason("declined", f"{provider.id} already declined or let this request expire")


def eligibility(provider: Provider, elder: Elder, policy: Policy) -> Reason | None:
    """Rule 2 of the spec: the first reason this provider may not serve this elder, or None."""
    return (
        offers_services(provider, elder)
        or contracted_area(provider, elder)
        or within_reach(nearest_station_km(provider, elder.lat, elder.lon), policy)
    )
