"""Small hand-made and random worlds for the dispatch tests, and an exact oracle (scipy milp).

The oracle decides eligibility with dispatch.rules (tested alone) and solves the assignment as a
MIP with HiGHS in two stages: the most visits, then the least cost with that many visits.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from dispatch.model import Elder, Instance, Policy, Provider, Station
from dispatch.rules import eligibility, nearest_station_km

SERVICES = ("meal", "clean", "health", "medical", "emergency")
STREETS = ("460106001", "460106002", "460107003")
BASE = (20.02, 110.33)


def random_world(rng: np.random.Generator, elders: int, providers: int, spare: float,
                 bonus: float = 1.5, max_km: float = 3.0) -> Instance:
    """A few km across, streets and services mixed so that some elders have nobody."""
    def point(spread_km):
        return (BASE[0] + rng.normal(0, spread_km) / 111.2, BASE[1] + rng.normal(0, spread_km) / 104.5)

    provider_list = []
    for j in range(providers):
        stations = tuple(Station(*point(1.5)) for _ in range(rng.integers(1, 4)))
        offered = frozenset(s for s in SERVICES if rng.random() < 0.8) or frozenset({"meal"})
        areas = tuple(sorted({STREETS[k] for k in rng.integers(0, 3, rng.integers(1, 3))}))
        if rng.random() < 0.15:
            areas = ("460106",)  # a district-wide contract: a shorter prefix
        provider_list.append(Provider(f"P{j}", 0, offered, areas, stations))
    elder_list = []
    for i in range(elders):
        lat, lon = point(1.8)
        need = frozenset(rng.choice(SERVICES, rng.integers(1, 3), replace=False).tolist())
        previous = f"P{rng.integers(providers)}" if rng.random() < 0.7 else None
        elder_list.append(Elder(f"E{i}", lat, lon, f"{STREETS[rng.integers(0, 3)]}{rng.integers(1, 5):03d}",
                                int(rng.integers(1, 3)), need, previous))
    demand = sum(e.visits for e in elder_list)
    share = rng.dirichlet(np.ones(providers)) * demand * (1 + spare)
    quotas = np.floor(share).astype(int)
    provider_list = [Provider(p.id, int(q), p.services, p.areas, p.stations) for p, q in zip(provider_list, quotas)]
    return Instance.build("2026-12", Policy(max_km, bonus), elder_list, provider_list)


def eligible_pairs(instance: Instance) -> list[tuple[int, int, float]]:
    pairs = []
    for i, elder in enumerate(instance.elders):
        for j, provider in enumerate(instance.providers):
            if eligibility(provider, elder, instance.policy) is None:
                km = nearest_station_km(provider, elder.lat, elder.lon)
                bonus = instance.policy.continuity_bonus_km if elder.previous_provider == provider.id else 0.0
                pairs.append((i, j, elder.visits * (km - bonus)))
    return pairs


def exact_optimum(instance: Instance, relax: bool = False) -> tuple[int | float, float]:
    """(most visits, least cost with them), exactly by MIP, or of the LP relaxation if relax."""
    pairs = eligible_pairs(instance)
    if not pairs:
        return 0, 0.0
    n_elders, n_providers = len(instance.elders), len(instance.providers)
    visits = np.array([e.visits for e in instance.elders])
    x_elder = np.array([p[0] for p in pairs])
    x_provider = np.array([p[1] for p in pairs])
    cost = np.array([p[2] for p in pairs])
    one_each = np.zeros((n_elders, len(pairs)))
    one_each[x_elder, np.arange(len(pairs))] = 1
    quota = np.zeros((n_providers, len(pairs)))
    quota[x_provider, np.arange(len(pairs))] = visits[x_elder]
    quotas = np.array([p.quota for p in instance.providers])
    constraints = [LinearConstraint(one_each, 0, 1), LinearConstraint(quota, 0, quotas)]
    integrality = np.zeros(len(pairs)) if relax else np.ones(len(pairs))
    served = visits[x_elder].astype(float)
    first = milp(-served, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1))
    best_visits = -first.fun
    keep = LinearConstraint(served[None, :], best_visits - 1e-6, np.inf)
    second = milp(cost, constraints=constraints + [keep], integrality=integrality, bounds=Bounds(0, 1))
    return (best_visits if relax else round(best_visits)), float(second.fun)
