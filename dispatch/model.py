"""The monthly dispatch problem as plain frozen values (docs/dispatch.md).

Elders come column-wise (`ElderTable`) because a city has 300,000 of them and the optimiser works on
numpy arrays; `ElderTable[i]` still gives one `Elder` for the rules and explanations. The plan is
column-wise for the same reason, with `assignments`, `unassigned` and `explanations` as views.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dispatch.arrays import Bools, Floats, Ints

NO_ELIGIBLE_PROVIDER = "no_eligible_provider"
QUOTA_EXHAUSTED = "quota_exhausted"
UNASSIGNED_REASONS = (NO_ELIGIBLE_PROVIDER, QUOTA_EXHAUSTED)
STREET_DIGITS = 9  # area code = 6-digit county + 3-digit street + 3-digit community
MAX_VISITS = 1000  # per elder and month: far beyond any entitlement, and visits x costs stay inside int64


@dataclass(frozen=True)
class Policy:
    max_km: float
    continuity_bonus_km: float = 0.0


@dataclass(frozen=True)
class Station:
    lat: float
    lon: float


@dataclass(frozen=True)
class Provider:
    id: str
    quota: int
    services: frozenset[str]
    areas: tuple[str, ...]
    stations: tuple[Station, ...]


@dataclass(frozen=True)
class Elder:
    id: str
    lat: float
    lon: float
    area: str
    visits: int
    services: frozenset[str]
    previous_provider: str | None = None


_Item = TypeVar("_Item", bound=np.generic)


def _read_only(values: npt.ArrayLike, dtype: type[_Item]) -> npt.NDArray[_Item]:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


def _visit_counts(ids: tuple[str, ...], visits: npt.ArrayLike) -> Ints:
    """Each elder's visits: any whole number from 1 to MAX_VISITS (the engine assumes no particular
    count); a ValueError names the first elder whose entry is not."""
    given = np.asarray(visits, np.float64).reshape(len(ids))
    wrong = np.flatnonzero(~((given >= 1) & (given <= MAX_VISITS) & (given == np.floor(given))))  # NaN too
    if len(wrong):
        i = int(wrong[0])
        raise ValueError(f"elder {ids[i]}: visits must be a whole number from 1 to {MAX_VISITS}, not {given[i]:g}")
    return _read_only(given, np.int64)


@dataclass(frozen=True, eq=False)
class ElderTable:
    """All elders of an instance, one column per field; row i is elder i."""

    ids: tuple[str, ...]
    lat: Floats
    lon: Floats
    areas: tuple[str, ...]
    visits: Ints
    services: tuple[frozenset[str], ...]
    previous_providers: tuple[str | None, ...]

    @classmethod
    def from_columns(
        cls,
        ids: Iterable[str],
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        areas: Iterable[str],
        visits: npt.ArrayLike,
        services: Iterable[frozenset[str]],
        previous_providers: Iterable[str | None],
    ) -> ElderTable:
        ids = tuple(ids)
        return cls(
            ids,
            _read_only(lat, np.float64),
            _read_only(lon, np.float64),
            tuple(areas),
            _visit_counts(ids, visits),
            tuple(services),
            tuple(previous_providers),
        )

    @classmethod
    def from_elders(cls, elders: Iterable[Elder]) -> ElderTable:
        rows = list(elders)
        return cls.from_columns(
            [e.id for e in rows],
            [e.lat for e in rows],
            [e.lon for e in rows],
            [e.area for e in rows],
            [e.visits for e in rows],
            [e.services for e in rows],
            [e.previous_provider for e in rows],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Elder:
        return Elder(
            self.ids[i],
            float(self.lat[i]),
            float(self.lon[i]),
            self.areas[i],
            int(self.visits[i]),
            self.services[i],
            self.previous_providers[i],
        )

    def __iter__(self) -> Iterator[Elder]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True, eq=False)
class Instance:
    month: str
    policy: Policy
    elders: ElderTable
    providers: tuple[Provider, ...]

    @classmethod
    def build(cls, month: str, policy: Policy, elders: Iterable[Elder], providers: Iterable[Provider]) -> Instance:
        return cls(month, policy, ElderTable.from_elders(elders), tuple(providers))


@dataclass(frozen=True)
class Assignment:
    elder: str
    provider: str
    visits: int
    km: float


@dataclass(frozen=True)
class Unassigned:
    elder: str
    visits: int
    reason: str


@dataclass(frozen=True)
class Explanation:
    """Why this provider: the runner-up (best other eligible provider) and how much farther it is
    (negative when quotas or continuity chose a farther provider)."""

    elder: str
    provider: str
    km: float
    runner_up: str | None
    runner_up_extra_km: float | None
    continuity: bool  # served again by last month's provider
    kept_by_continuity: bool  # ... and only the continuity bonus made it win over a nearer one


@dataclass(frozen=True)
class StreetShortfall:
    street: str
    visits_lacking: int
    elders_unassigned: int
    no_eligible_provider: int  # elders of the street whom no provider may serve at all


@dataclass(frozen=True)
class Quality:
    """How close the plan is provably to the optimum: bounds from the flow relaxation."""

    visits_upper_bound: int
    cost_lower_bound: float
    cost_gap: float  # (cost - lower bound) / max(|lower bound|, 1e-9), 0 when proven optimal


@dataclass(frozen=True, eq=False)
class Plan:
    """Row i is elder i of the instance; provider index -1 means unassigned."""

    month: str
    elders: ElderTable
    provider_ids: tuple[str, ...]
    provider: Ints
    km: Floats
    unassigned_reason: npt.NDArray[np.int8]  # index into UNASSIGNED_REASONS, -1 when assigned
    runner_up: Ints  # provider index, -1 when no other eligible provider
    runner_up_km: Floats
    continuity: Bools
    kept_by_continuity: Bools
    visits_assigned: int
    cost: float
    shortfall: tuple[StreetShortfall, ...] = ()
    quality: Quality | None = None
    solve_seconds: float = field(default=0.0, compare=False)

    @property
    def assignments(self) -> list[Assignment]:
        ids, visits = self.elders.ids, self.elders.visits
        return [
            Assignment(ids[i], self.provider_ids[self.provider[i]], int(visits[i]), float(self.km[i]))
            for i in np.flatnonzero(self.provider >= 0)
        ]

    @property
    def unassigned(self) -> list[Unassigned]:
        ids, visits = self.elders.ids, self.elders.visits
        return [
            Unassigned(ids[i], int(visits[i]), UNASSIGNED_REASONS[self.unassigned_reason[i]])
            for i in np.flatnonzero(self.provider < 0)
        ]

    def explanation(self, i: int) -> Explanation | None:
        return None if self.provider[i] < 0 else self._explain(i)

    def _explain(self, i: int) -> Explanation:
        other = int(self.runner_up[i])
        return Explanation(
            self.elders.ids[i],
            self.provider_ids[self.provider[i]],
            float(self.km[i]),
            self.provider_ids[other] if other >= 0 else None,
            float(self.runner_up_km[i] - self.km[i]) if other >= 0 else None,
            bool(self.continuity[i]),
            bool(self.kept_by_continuity[i]),
        )

    @property
    def explanations(self) -> list[Explanation]:
        return [self._explain(i) for i in np.flatnonzero(self.provider >= 0).tolist()]
