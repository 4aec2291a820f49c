"""The provider side of a world: stations from the care centres each organisation runs, who may serve
whom (contracted street, every needed service, a station within reach), last month's provider, and
monthly quotas sized from the elders actually generated.

"Within reach" is the dispatch rule's `max_km` (docs/dispatch.md, 8 km by default) measured from the
community centroid, so that the previous provider is one the engine could choose again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from itertools import accumulate

from dispatch.geo import haversine_km
from seed.geography import Community, Places
from seed.model import Elder, Provider, Station
from service.catalogue import SERVICES

MAX_KM = 8.0
QUOTA_COVER = 1.1  # total quota / entitled visits: a little spare so continuity can be honoured
VISITS_PER_CAREGIVER = 44  # two visits a working day, 22 days a month, travel included
HAS_PREVIOUS_PROVIDER = 0.88  # the rest are new to the programme this month


class Contracts:
    """The contracted organisations of a scenario, indexed for the questions the generator asks."""

    def __init__(self, places: Places):
        self.contracts = places.contracts
        self.stations: tuple[tuple[Station, ...], ...] = tuple(
            tuple(
                Station(c.name, c.lat, c.lon, c.community, c.kind)
                for c in places.centres
                if c.operator == contract.name
            )
            for contract in places.contracts
        )
        self._eligible: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
        self._km: dict[tuple[str, int], float] = {}
        self._reachable: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}

    def eligible(self, street_code: str, services: tuple[str, ...]) -> tuple[int, ...]:
        """Providers contracted for the street that offer every one of the services."""
        key = (street_code, services)
        if key not in self._eligible:
            self._eligible[key] = tuple(
                i for i, c in enumerate(self.contracts) if street_code in c.streets and set(services) <= set(c.services)
            )
        return self._eligible[key]

    def station_km(self, community: Community, provider: int) -> float:
        """Distance from the community centroid to the provider's nearest station."""
        key = (community.code, provider)
        if key not in self._km:
            self._km[key] = min(
                (haversine_km(community.lat, community.lon, s.lat, s.lon) for s in self.stations[provider]),
                default=math.inf,
            )
        return self._km[key]

    def reachable(self, community: Community, services: tuple[str, ...]) -> tuple[int, ...]:
        """Eligible providers with a station within MAX_KM; all eligible ones if none is that close."""
        key = (community.code, services)
        if key not in self._reachable:
            eligible = self.eligible(community.code[:9], services)
            near = tuple(p for p in eligible if self.station_km(community, p) <= MAX_KM)
            self._reachable[key] = near or eligible
        return self._reachable[key]

    def previous_candidates(
        self, community: Community, services: tuple[str, ...]
    ) -> tuple[tuple[int, ...], list[float]]:
        """Who could have been an elder's provider last month, with cumulative weights for drawing one:
        nearer organisations served more of the neighbourhood, so they are more likely."""
        candidates = self.reachable(community, services)
        return candidates, list(accumulate(1.0 / (0.5 + self.station_km(community, p)) for p in candidates))

    def providers(self, elders: Iterable[Elder], communities: dict[str, Community]) -> tuple[Provider, ...]:
        """Provider records with quotas that together cover QUOTA_COVER x the entitled visits.

        Each elder's visits are shared equally among the providers that could serve it, so a
        provider's quota follows the demand it can actually meet.
        """
        visits_by_need: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        entitled = 0
        for elder in elders:
            visits_by_need[(elder.area_code, elder.services)] += elder.visits_per_month
            entitled += elder.visits_per_month
        demand = [0.0] * len(self.contracts)
        for (area_code, services), visits in visits_by_need.items():
            candidates = self.reachable(communities[area_code], services)
            for p in candidates:
                demand[p] += visits / len(candidates)
        quotas = _shares(round(QUOTA_COVER * entitled), demand)
        return tuple(
            Provider(
                name=c.name,
                stations=self.stations[i],
                areas=c.streets,
                services=tuple(s for s in SERVICES if s in c.services),
                monthly_quota=quotas[i],
                contract_start=date.fromisoformat(c.contract_start),
                contract_end=date.fromisoformat(c.contract_end),
                caregivers=max(2, math.ceil(quotas[i] / VISITS_PER_CAREGIVER)),
            )
            for i, c in enumerate(self.contracts)
        )


def _shares(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` into integers that add up exactly (largest remainder)."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares
