"""Instant assignment of one request (urgent, emergency, or ad hoc outside the monthly plan).

The nearest eligible provider with quota left this month, excluding providers that already declined
the request or let it expire; for emergencies it must offer the emergency service. The service
builds a `ProviderIndex` once (when providers change) and asks it per request with the remaining
quotas it reads from the database; each rejected nearer provider comes back with its reason, which
is also the "why nobody" answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from dispatch.geo import unit_vectors
from dispatch.model import Elder, Policy, Provider
from dispatch.reach import StationIndex
from dispatch.rules import (
    Reason,
    contracted_area,
    has_quota,
    not_declined,
    offers_emergency,
    offers_services,
    within_reach,
)


@dataclass(frozen=True)
class InstantRequest:
    lat: float
    lon: float
    area: str
    services: frozenset[str]
    urgency: str = "normal"  # "normal", "urgent" or "emergency"
    visits: int = 1
    declined: frozenset[str] = frozenset()  # providers that declined it or let it expire


@dataclass(frozen=True)
class Rejection:
    provider: str
    km: float
    reason: Reason


@dataclass(frozen=True)
class InstantChoice:
    provider: str | None  # None: nobody may take it; see `rejected`
    km: float | None
    rejected: tuple[Rejection, ...]  # every nearer provider, with why not


class ProviderIndex:
    """Providers and their stations, arranged once so that each request costs ~0.1 ms."""

    def __init__(self, providers: Collection[Provider], policy: Policy):
        self.providers = tuple(providers)
        self.policy = policy
        self.stations = StationIndex(self.providers)

    def assign(self, request: InstantRequest, visits_left: Mapping[str, int]) -> InstantChoice:
        """visits_left: provider id -> quota still free this month (absent means none)."""
        km = self.stations.nearest_km_of_one(unit_vectors(request.lat, request.lon))
        elder = Elder("request", request.lat, request.lon, request.area, request.visits, request.services)
        rejected: list[Rejection] = []
        for j in np.argsort(km, kind="stable").tolist():
            provider, distance = self.providers[j], float(km[j])
            reason = (
                not_declined(provider, request.declined)
                or offers_emergency(provider, request.urgency)
                or offers_services(provider, elder)
                or contracted_area(provider, elder)
                or within_reach(distance, self.policy)
                or has_quota(provider, int(visits_left.get(provider.id, 0)), request.visits)
            )
            if reason is None:
                return InstantChoice(provider.id, distance, tuple(rejected))
            rejected.append(Rejection(provider.id, distance, reason))
        return InstantChoice(None, None, tuple(rejected))
