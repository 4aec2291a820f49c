"""Rule 2 (eligibility) in bulk: which providers may serve which elders, and how far they are.

The same rules as dispatch/rules.py, applied to arrays: services and areas are decided once per
distinct service set and area code (a city has a few hundred of each), distance through dot products
of 3-D unit vectors against every station (a few hundred), chunk by chunk to bound memory. Dot
products choose; the exact haversine of the spec decides the final kilometres and the max_km edge.

Which providers each elder offers the flow (its candidates) is chosen by price: the least
km - continuity bonus + beta_j, for prices beta of the providers' quotas (dispatch/prices.py). With
beta = 0 these are simply the nearest; with the LP's prices they are the providers an optimal plan
may actually use, and `outside` bounds what any provider left out could cost, so a proof can check
the choice afterwards instead of trusting it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dispatch.arrays import Bools, Floats, Ints
from dispatch.geo import EARTH_RADIUS_KM, unit_vectors
from dispatch.model import ElderTable, Instance, Provider

CHUNK = 8192  # elders per block: CHUNK x stations float64 stays a few tens of MB
# Elders per block of the candidate scan: blocks of nearby elders (in Z-order) see about half the
# providers of a city, and the block's work shrinks with them.
SCAN_BLOCK = 2048
_EDGE_SLACK_KM = 1e-6  # dot products may misjudge the max_km edge by ~1e-9 km; haversine settles it


class StationIndex:
    """The providers' stations as slabs: slab s holds every provider's s-th station (a provider
    with fewer stations repeats its first), so "nearest station of each provider" is a few matrix
    products and an elementwise max, for one elder or a block of thousands."""

    def __init__(self, providers: tuple[Provider, ...]):
        self.providers = providers
        self.has_station = np.array([len(p.stations) > 0 for p in providers], dtype=bool)
        width = max([len(p.stations) for p in providers] + [1])
        lat = np.zeros((width, len(providers)))
        lon = np.zeros((width, len(providers)))
        for j, p in enumerate(providers):
            stations = list(p.stations) + [p.stations[0]] * (width - len(p.stations)) if p.stations else []
            lat[: len(stations), j] = [s.lat for s in stations]
            lon[: len(stations), j] = [s.lon for s in stations]
        self.slabs = unit_vectors(lat, lon)  # (width, providers, 3)
        self.slabs[:, ~self.has_station] = 0.0  # a provider without stations is nowhere near anyone
        self._slab_columns = [np.ascontiguousarray(slab.T) for slab in self.slabs]  # fast matmul
        self._slab_coordinates = [[np.ascontiguousarray(slab[:, c]) for c in range(3)] for slab in self.slabs]

    def nearest_km_of_one(self, xyz: Floats) -> Floats:
        """`nearest_km` of one elder (3,) to every provider, in whole-slab operations: a request
        dispatched alone pays a few array operations instead of a few per station slab. The same
        arithmetic in the same order, so the same kilometres to the last bit."""
        d = self.slabs - xyz  # (width, providers, 3)
        squared = ((d[..., 0] ** 2 + d[..., 1] ** 2) + d[..., 2] ** 2).min(axis=0)
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(squared) / 2))
        return np.where(self.has_station, km, np.inf)

    def best_cosines(self, elder_xyz: Floats, providers: Ints | None = None) -> Floats:
        """(elders, providers): cosine of the angle to each provider's nearest station."""
        columns = self._slab_columns if providers is None else [c[:, providers] for c in self._slab_columns]
        best: Floats = elder_xyz @ columns[0]
        for more in columns[1:]:
            np.maximum(best, elder_xyz @ more, out=best)
        return best

    def near(self, elder_xyz: Floats, km: float) -> Ints:
        """Providers with a station that may be within km of some of these elders (a superset):
        those within km of the smallest circle around the elders' centre holding them all."""
        centre = elder_xyz.sum(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-300)
        spread = np.arccos(np.clip((elder_xyz @ centre).min(), -1.0, 1.0))
        reach = np.cos(min(np.pi, spread + km / EARTH_RADIUS_KM + 1e-9))
        return np.flatnonzero(((self.slabs @ centre) >= reach).any(axis=0) & self.has_station)

    def nearest_km(self, elder_xyz: Floats, provider: Ints) -> Floats:
        """Exact km from each elder (..., 3) to its provider's nearest station; provider (...).
        The great-circle km from the chord |a - b| between unit vectors, 2R asin(|a - b| / 2), equal
        to the haversine to ~1e-12 km (a dot product would lose the short distances that matter
        here); one coordinate at a time: (elders x providers) arrays, no small trailing axis."""
        first, *rest = self._slab_coordinates  # a slab per station of the provider with the most
        squared = _squared_chord(elder_xyz, first, provider)
        for slab in rest:
            squared = np.minimum(squared, _squared_chord(elder_xyz, slab, provider))
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(squared) / 2))
        return np.where(self.has_station[provider], km, np.inf)


def _squared_chord(elder_xyz: Floats, slab: list[Floats], provider: Ints) -> Floats:
    """|a - b|^2 between each elder and its provider's station of this slab, coordinate by coordinate
    (in the order nearest_km_of_one adds them, so both give the same kilometres to the last bit)."""
    x, y, z = (elder_xyz[..., c] - slab[c][provider] for c in range(3))
    squared: Floats = x**2 + y**2 + z**2
    return squared


_Value = TypeVar("_Value", bound=Hashable)


def _interned_index(values: Sequence[_Value]) -> tuple[Ints, list[_Value]]:
    """(index of each value among the distinct ones, the distinct values), in C loops: a city has a
    million elders and a few hundred distinct service sets and area codes."""
    index = {value: row for row, value in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), np.int64, len(values)), list(index)


def service_fit(service_sets: list[frozenset[str]], providers: tuple[Provider, ...]) -> Bools:
    """(service sets, providers): the provider offers every service of the set."""
    return np.array([[s <= p.services for p in providers] for s in service_sets], dtype=bool).reshape(
        len(service_sets), len(providers)
    )


def area_fit(areas: list[str], providers: tuple[Provider, ...]) -> Bools:
    """(area codes, providers): one of the provider's areas is a prefix of the code."""
    by_prefix: dict[str, list[int]] = {}
    for j, p in enumerate(providers):
        for a in p.areas:
            by_prefix.setdefault(a, []).append(j)
    lengths = sorted({len(a) for a in by_prefix})
    fit = np.zeros((len(areas), len(providers)), dtype=bool)
    for row, code in enumerate(areas):
        for n in lengths:
            fit[row, by_prefix.get(code[:n], [])] = True
    return fit


def cosine_km(cos: Floats) -> Floats:
    """Kilometres from the cosine of the angle, through the chord R * sqrt(2 - 2 cos): never more than
    the great-circle km (so bounds built on it hold), within 1e-6 km of it up to 8 km, and plenty
    for ranking; exact kilometres come from StationIndex.nearest_km."""
    return EARTH_RADIUS_KM * np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0))


@dataclass(frozen=True, eq=False)
class Candidates:
    """Each elder's candidate providers, cheapest at the scan's prices first."""

    provider: Ints  # (elders, width) provider index, -1 pads
    km: Floats  # (elders, width) exact km, inf pads
    eligible_count: Ints  # (elders,) eligible providers in the whole instance
    eligible_sets: npt.NDArray[np.uint8]  # (elders, bytes) every eligible provider, bit-packed
    outside: Floats  # (elders,) lower bound of km - bonus + scan_beta over eligible providers not listed
    closest: Ints  # (elders, 2) the two nearest eligible providers by km (-1: none), for explanations
    closest_km: Floats  # (elders, 2) their exact km (inf: none)
    scan_beta: Floats  # (providers,) the prices (km) the rows were chosen at


class Eligibility:
    """Everything about rule 2 that does not depend on which elders are asked about."""

    def __init__(self, instance: Instance):
        elders: ElderTable = instance.elders
        self.instance = instance
        self.stations = StationIndex(instance.providers)
        self.xyz = unit_vectors(elders.lat, elders.lon)
        service_rows, service_sets = _interned_index(elders.services)
        area_rows, areas = _interned_index(elders.areas)
        self.service_rows, self.area_rows = service_rows, area_rows
        self.service_fit = service_fit(service_sets, instance.providers)
        self.area_fit = area_fit(areas, instance.providers)
        provider_row: dict[str | None, int] = {p.id: j for j, p in enumerate(instance.providers)}
        self.previous = np.array([provider_row.get(p, -1) for p in elders.previous_providers], np.int64)
        max_km = instance.policy.max_km
        self.cos_limit = np.cos((max_km + _EDGE_SLACK_KM) / EARTH_RADIUS_KM)
        self._cos_sure = np.cos(max(max_km - _EDGE_SLACK_KM, 0.0) / EARTH_RADIUS_KM)

    def matrix(self, rows: Ints, providers: Ints | None = None) -> tuple[Bools, Floats]:
        """For these elders: (eligible mask, nearest-station cosine) against every provider, or
        against the given ones (columns in that order)."""
        best = self.stations.best_cosines(self.xyz[rows], providers)
        ok = best >= self.cos_limit
        if providers is None:
            ok &= self.service_fit[self.service_rows[rows]] & self.area_fit[self.area_rows[rows]]
            ok &= self.stations.has_station
        else:
            ok &= (
                self.service_fit[self.service_rows[rows]][:, providers]
                & self.area_fit[self.area_rows[rows]][:, providers]
            )
            ok &= self.stations.has_station[providers]
        edge_row, edge_col = np.nonzero(ok & (best < self._cos_sure))
        if len(edge_row):  # within a micrometre of max_km: the exact distance decides
            column = edge_col if providers is None else providers[edge_col]
            km = self.stations.nearest_km(self.xyz[rows[edge_row]], column)
            ok[edge_row, edge_col] = km <= self.instance.policy.max_km
        return ok, best

    def per_visit_km(self, rows: Ints, provider: Ints, km: Floats) -> Floats:
        """km minus the continuity bonus where the provider served the elder last month."""
        bonus = self.instance.policy.continuity_bonus_km
        per_visit: Floats = km - bonus * ((provider == self.previous[rows][:, None]) & (provider >= 0))
        return per_visit

    def nearest(self, k: int, rows: Ints | None = None) -> Candidates:
        """The k cheapest eligible providers of each elder at no price: nearest, net of continuity."""
        return self.scan(k, None, rows)

    def scan(self, width: int, beta_km: Floats | None = None, rows: Ints | None = None) -> Candidates:
        """Each elder's `width` eligible providers of least km - bonus + beta_km, block by block."""
        count_p = len(self.instance.providers)
        rows = np.arange(len(self.xyz)) if rows is None else np.asarray(rows, np.int64)
        beta = np.zeros(count_p) if beta_km is None else np.asarray(beta_km, float)
        width = max(1, min(width, count_p))
        bonus = self.instance.policy.continuity_bonus_km
        provider = np.full((len(rows), width), -1, np.int64)
        closest = np.full((len(rows), 2), -1, np.int64)
        outside = np.full(len(rows), np.inf)
        count = np.zeros(len(rows), np.int64)
        sets = np.zeros((len(rows), (count_p + 7) // 8), np.uint8)
        max_km = self.instance.policy.max_km
        order = self._spatial_order(rows)  # blocks of nearby elders see only the providers near them
        for start in range(0, len(rows), SCAN_BLOCK):
            at = order[start : start + SCAN_BLOCK]
            block, here = rows[at], np.arange(len(at))
            near = self.stations.near(self.xyz[block], max_km)
            ok, best = self.matrix(block, near)
            count[at] = ok.sum(axis=1)
            every = np.zeros((len(at), count_p), bool)
            every[:, near] = ok
            sets[at] = np.packbits(every, axis=1)
            km = np.full(ok.shape, np.inf)
            km[ok] = cosine_km(best[ok])
            score = km + beta[near]
            column_of = np.full(count_p + 1, -1)
            column_of[near] = np.arange(len(near))
            prev = column_of[self.previous[block]]  # previous -1 maps to the last entry: -1
            with_bonus = np.flatnonzero(prev >= 0)
            score[with_bonus, prev[with_bonus]] -= bonus
            # A few rounds of argmin beat a partial sort of every provider when width is small.
            for slot in range(width + 1 if len(near) else 0):
                top = score.argmin(axis=1)
                found = np.isfinite(score[here, top])
                if slot == width:
                    outside[at] = np.where(found, score[here, top] - _EDGE_SLACK_KM, np.inf)
                else:
                    provider[at, slot] = np.where(found, near[top], -1)
                    score[here, top] = np.inf
            for slot in range(2 if len(near) else 0):
                top = km.argmin(axis=1)
                closest[at, slot] = np.where(np.isfinite(km[here, top]), near[top], -1)
                km[here, top] = np.inf
        return Candidates(
            provider, self._exact_km(rows, provider), count, sets, outside, closest, self._exact_km(rows, closest), beta
        )

    def _spatial_order(self, rows: Ints) -> Ints:
        """Positions of rows along a Z-order curve over cells of about a kilometre."""
        lat, lon = self.instance.elders.lat[rows], self.instance.elders.lon[rows]
        if not len(rows):
            return np.zeros(0, np.int64)
        cell = 1.0 / 111.2  # degrees of latitude in a kilometre
        y = np.clip((lat - lat.min()) / cell, 0, 2**16 - 1).astype(np.uint64)
        x = np.clip((lon - lon.min()) * np.cos(np.radians(lat.mean())) / cell, 0, 2**16 - 1).astype(np.uint64)
        return np.argsort(_spread_bits(x) | (_spread_bits(y) << np.uint64(1)), kind="stable")

    def _exact_km(self, rows: Ints, provider: Ints) -> Floats:
        km = np.empty(provider.shape)
        for start in range(0, len(rows), CHUNK):
            part = slice(start, start + CHUNK)
            km[part] = self.stations.nearest_km(self.xyz[rows[part]][:, None, :], np.maximum(provider[part], 0))
        km[provider < 0] = np.inf
        return km

    def all_km(self, rows: Ints) -> tuple[Bools, Floats]:
        """For a few elders: (eligible mask, exact km) against every provider."""
        ok, _ = self.matrix(rows)
        every = np.arange(len(self.instance.providers))
        return ok, self.stations.nearest_km(self.xyz[rows][:, None, :], every[None, :])


def _spread_bits(v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Bits of 16-bit integers moved to the even positions (for interleaving into a Z-order key)."""
    v = v & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v
