"""Optimal plans found without any of the engine's code: the oracles the engine is held to.

The engine settles small worlds with a two-stage MIP (HiGHS through scipy) and everything else with
min-cost flow, repair and polishing; an oracle built on either would largely compare the engine with
itself. These share nothing with it but the model's plain values:

- eligibility from the spec's words, with geopy's great circle on the spec's sphere;
- `brute_force`: every assignment of every elder (unserved or one eligible provider) enumerated as
  one numpy array, the lexicographic best picked by sorting -- for worlds of up to ~8 elders;
- `cp_sat`: OR-Tools' CP-SAT on one integer objective, visits x WEIGHT - cost in millimetres, with
  WEIGHT above any cost difference, so its optimum serves the most visits and then costs least --
  for worlds of up to a few hundred elders. `test_oracle.py` holds it to the brute force.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
from geopy.distance import great_circle
from ortools.sat.python import cp_model

from dispatch.model import Instance

SPEC_EARTH_RADIUS_KM = 6371.0088
UNITS_PER_KM = 1_000_000  # CP-SAT costs in millimetres: rounding moves a total by < 1 mm a pair
BRUTE_FORCE_LIMIT = 200_000  # assignments enumerated at most


@dataclass(frozen=True)
class Optimum:
    visits: int
    cost: float  # km, recomputed in floating point from the chosen pairs
    provider: tuple[int, ...]  # per elder: provider index, -1 unserved


def eligible_costs(instance: Instance) -> dict[tuple[int, int], float]:
    """(elder, provider) -> per-visit cost (km to the nearest station - continuity bonus), for every
    pair rule 2 allows."""
    policy, pairs = instance.policy, {}
    for i, elder in enumerate(instance.elders):
        for j, provider in enumerate(instance.providers):
            if not provider.stations or not elder.services <= provider.services:
                continue
            if not any(elder.area.startswith(area) for area in provider.areas):
                continue
            km = min(
                great_circle((elder.lat, elder.lon), (s.lat, s.lon), radius=SPEC_EARTH_RADIUS_KM).km
                for s in provider.stations
            )
            if km <= policy.max_km:
                bonus = policy.continuity_bonus_km if elder.previous_provider == provider.id else 0.0
                pairs[i, j] = km - bonus
    return pairs


def _optimum(instance: Instance, pairs: dict[tuple[int, int], float], chosen: list[int]) -> Optimum:
    visits = [int(v) for v in instance.elders.visits]
    served = [i for i, j in enumerate(chosen) if j >= 0]
    return Optimum(sum(visits[i] for i in served), sum(visits[i] * pairs[i, chosen[i]] for i in served), tuple(chosen))


def brute_force(instance: Instance) -> Optimum:
    """The best of all assignments, enumerated."""
    pairs = eligible_costs(instance)
    elders, providers = len(instance.elders), len(instance.providers)
    options = [[-1] + [j for j in range(providers) if (i, j) in pairs] for i in range(elders)]
    assert np.prod([len(o) for o in options], dtype=float) <= BRUTE_FORCE_LIMIT, "too large to enumerate"
    choice = np.array(list(product(*options)), np.int64).reshape(-1, elders)  # (assignments, elders)
    visits = np.asarray(instance.elders.visits, np.int64)
    quotas = np.array([p.quota for p in instance.providers], np.int64)
    table = np.zeros((elders, providers + 1))  # per-visit cost, last column: unserved
    for (i, j), cost in pairs.items():
        table[i, j] = cost
    served = choice >= 0
    load = np.zeros((len(choice), providers + 1), np.int64)
    for i in range(elders):
        np.add.at(load, (np.arange(len(choice)), choice[:, i]), visits[i])
    feasible = (load[:, :providers] <= quotas).all(axis=1)
    total_visits = (served * visits).sum(axis=1)
    total_cost = (table[np.arange(elders), choice] * visits * served).sum(axis=1)
    best = np.lexsort((total_cost, -total_visits, ~feasible))[0]
    return _optimum(instance, pairs, choice[best].tolist())


def cp_sat(instance: Instance, seconds: float = 60.0) -> Optimum:
    """The optimum proven by CP-SAT (one worker: the machine is shared, and runs repeat)."""
    pairs = eligible_costs(instance)
    visits = [int(v) for v in instance.elders.visits]
    units = {pair: visits[pair[0]] * round(cost * UNITS_PER_KM) for pair, cost in pairs.items()}
    weight = 2 * sum(abs(u) for u in units.values()) + 1  # one visit outweighs any cost difference
    model = cp_model.CpModel()
    take = {pair: model.new_bool_var(f"x{pair}") for pair in pairs}
    for i in range(len(visits)):
        model.add_at_most_one(take[i, j] for j in range(len(instance.providers)) if (i, j) in take)
    for j, provider in enumerate(instance.providers):
        model.add(sum(visits[i] * x for (i, k), x in take.items() if k == j) <= provider.quota)
    model.maximize(sum((visits[i] * weight - units[i, j]) * x for (i, j), x in take.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2  # the LP relaxation at every node: proofs come far sooner
    solver.parameters.max_time_in_seconds = seconds
    status = solver.solve(model)
    assert status == cp_model.OPTIMAL, f"CP-SAT did not prove an optimum: {solver.status_name(status)}"
    chosen = [-1] * len(visits)
    for (i, j), x in take.items():
        if solver.boolean_value(x):
            chosen[i] = j
    return _optimum(instance, pairs, chosen)
