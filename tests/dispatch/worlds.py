"""Random small worlds for the dispatch tests, and their LP relaxation (HiGHS through scipy).

The exact optima the engine is held to come from tests/dispatch/oracle.py, which shares no code
with the engine; the LP relaxation here is what its proof of quality is compared with.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from dispatch.model import Elder, Instance, Policy, Provider, Station
from tests.dispatch.oracle import eligible_costs

SERVICES = ("meal", "clean", "health", "medical", "emergency")
STREETS = ("460106001", "460106002", "460107003")
BASE = (20.02, 110.33)


def random_world(
    rng: np.random.Generator,
    elders: int,
    providers: int,
    spare: float,
    bonus: float = 1.5,
    max_km: float = 3.0,
    most_visits: int = 2,
) -> Instance:
    """A few km across, streets and services mixed so that some elders have nobody; each elder is
    entitled to 1..most_visits visits."""

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
        elder_list.append(
            Elder(
                f"E{i}",
                lat,
                lon,
                f"{STREETS[rng.integers(0, 3)]}{rng.integers(1, 5):03d}",
                int(rng.integers(1, most_visits + 1)),
                need,
                previous,
            )
        )
    demand = sum(e.visits for e in elder_list)
    share = rng.dirichlet(np.ones(providers)) * demand * (1 + spare)
    quotas = np.floor(share).astype(int)
    provider_list = [
        Provider(p.id, int(q), p.services, p.areas, p.stations) for p, q in zip(provider_list, quotas, strict=True)
    ]
    return Instance.build("2026-12", Policy(max_km, bonus), elder_list, provider_list)


def lp_optimum(instance: Instance) -> tuple[float, float]:
    """(most visits, least cost with them) of the LP relaxation (elders may split), by HiGHS: what
    the engine's proof of quality (dispatch/bound.py) must never exceed."""
    pairs = eligible_costs(instance)
    if not pairs:
        return 0.0, 0.0
    visits = np.asarray(instance.elders.visits, float)
    (x_elder, x_provider), cost = np.array(list(pairs)).T, np.array(list(pairs.values()))
    columns = np.arange(len(pairs))
    one_each = np.zeros((len(instance.elders), len(pairs)))
    one_each[x_elder, columns] = 1
    quota = np.zeros((len(instance.providers), len(pairs)))
    quota[x_provider, columns] = visits[x_elder]
    rules = [LinearConstraint(one_each, 0, 1), LinearConstraint(quota, 0, [p.quota for p in instance.providers])]
    served = visits[x_elder]
    most = -milp(-served, constraints=rules, bounds=Bounds(0, 1)).fun
    keep = LinearConstraint(served[None, :], most - 1e-6, np.inf)
    return most, float(milp(served * cost, constraints=rules + [keep], bounds=Bounds(0, 1)).fun)


def instance_document(instance: Instance) -> dict:
    """The instance as the engine's JSON format has it (dispatch/formats.py only reads it)."""
    return {
        "month": instance.month,
        "policy": {"max_km": instance.policy.max_km, "continuity_bonus_km": instance.policy.continuity_bonus_km},
        "elders": [
            {
                "id": e.id,
                "lat": e.lat,
                "lon": e.lon,
                "area": e.area,
                "visits": e.visits,
                "services": sorted(e.services),
                "previous_provider": e.previous_provider,
            }
            for e in instance.elders
        ],
        "providers": [
            {
                "id": p.id,
                "quota": p.quota,
                "services": sorted(p.services),
                "areas": list(p.areas),
                "stations": [{"lat": s.lat, "lon": s.lon} for s in p.stations],
            }
            for p in instance.providers
        ],
    }
