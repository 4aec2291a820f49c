"""Polishing a repaired plan with a small MIP over the few pairs that can still matter.

On a city, rounding the relaxation's few split elders costs next to nothing; on a world of a few
thousand elders it can cost more than the 0.1% the spec allows, or a visit or two. The LP prices
(dispatch/prices.py) say where a better plan could differ: any plan serving as many visits costs
the dual bound (dispatch/bound.py, at its value of a visit gamma) plus, for every elder, visits x
the reduced cost of its choice -- for a provider, cost + its price - the elder's potential
min(gamma, least); for staying unserved, gamma - that potential -- plus the quota left unused at
each price, all >= 0. So no plan cheaper than the current one makes a choice whose reduced cost
alone exceeds the current gap: such pairs are left out, whether in an elder's candidate row or
outside it (there a lower bound of their price says which elders to look at in full), and served
elders that could neither move nor be dropped within the gap stay as they are (reduced-cost
fixing); HiGHS decides the rest exactly -- first the most visits, then the least cost. When even
that is too many pairs for a quick MIP, the cheapest ones are taken: no longer a proof, still an
improvement or nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dispatch.arrays import Bools, Floats, Ints
from dispatch.bound import DualBound

MAX_FREE_PAIRS = 3000  # pairs besides the plan's own that the MIP may choose; HiGHS takes seconds
_NODE_LIMIT = 20_000  # branch-and-bound nodes per stage: bounded work, the same on every machine

# Rows -> (eligible mask, per-visit km) against every provider: the pairs outside candidate rows.
EveryPair = Callable[[Ints], tuple[Bools, Floats]]


def polish(
    visits: Ints,
    provider: Ints,
    cost: Floats,
    quotas: Ints,
    assigned: Ints,
    beta: Floats,
    least: Floats,
    outside: Floats,
    bound: DualBound,
    proven: bool,
    every_pair: EveryPair,
) -> Ints | None:
    """A better provider per elder (-1: unserved) than `assigned`, or None.

    provider/cost: each elder's candidate row and per-visit km; beta, least: the LP prices and each
    elder's least priced cost over every eligible provider, outside: over those outside its row
    (km); bound: the dual bound of the plan's visits; proven: the plan already serves the most
    visits possible."""
    rows = np.arange(len(visits))
    served = assigned >= 0
    own = np.where(served[:, None] & (provider == assigned[:, None]), cost, np.inf).min(axis=1)
    plan_cost = float((visits[served] * own[served]).sum())
    budget = plan_cost - bound.cost if proven else np.inf
    potential = np.minimum(bound.gamma, least)

    def weight(elder: Ints, at: Ints, km: Floats) -> Floats:
        return np.maximum(km + beta[at] - potential[elder], 0.0) * visits[elder]

    # The choices within the budget: pairs in the rows, pairs outside them, and dropping an elder.
    in_row = np.nonzero((provider >= 0) & (provider != assigned[:, None]))
    elder, at, km = in_row[0], provider[in_row], cost[in_row]
    beyond = visits * np.maximum(outside - potential, 0.0)  # no pair outside the row weighs less
    wide = np.flatnonzero(np.isfinite(beyond) & (beyond <= budget))
    wide = wide[np.argsort(beyond[wide], kind="stable")[:MAX_FREE_PAIRS]]
    if len(wide):
        ok, every_km = every_pair(wide)
        listed = np.zeros_like(ok)
        listed[np.nonzero(provider[wide] >= 0)[0], provider[wide][provider[wide] >= 0]] = True
        out_row, out_at = np.nonzero(ok & ~listed)
        elder, at = np.concatenate([elder, wide[out_row]]), np.concatenate([at, out_at])
        km = np.concatenate([km, every_km[out_row, out_at]])
    within = weight(elder, at, km) <= budget
    elder, at, km = elder[within], at[within], km[within]
    dropped = rows[served & (visits * np.maximum(bound.gamma - least, 0.0) <= budget)]
    keep = np.argsort(
        np.concatenate([weight(elder, at, km), visits[dropped] * np.maximum(bound.gamma - least[dropped], 0.0)]),
        kind="stable",
    )[:MAX_FREE_PAIRS]
    free = np.unique(np.concatenate([elder, dropped])[keep])
    if not len(free):
        return None
    pairs = keep[keep < len(elder)]
    mine = free[served[free]]  # free elders keep their own pair as a choice
    column_elder = np.concatenate([elder[pairs], mine])
    column_provider = np.concatenate([at[pairs], assigned[mine]])
    column_km = np.concatenate([km[pairs], own[mine]])
    fixed = served.copy()
    fixed[free] = False
    taken = np.bincount(assigned[fixed], weights=visits[fixed], minlength=len(quotas))
    best = _assign(
        visits,
        column_elder,
        column_provider,
        column_km,
        quotas - taken,
        len(visits),
        int(visits[mine].sum()) if proven else None,
    )
    if best is None:
        return None
    new = assigned.copy()
    new[free] = -1
    new[column_elder[best]] = column_provider[best]
    before = (int(visits[served].sum()), -plan_cost)
    after = (
        int(visits[new >= 0].sum()),
        -(
            plan_cost
            - float((visits[mine] * own[mine]).sum())
            + float((visits[column_elder[best]] * column_km[best]).sum())
        ),
    )
    return new if after > before else None


def _assign(
    visits: Ints,
    elder_of: Ints,
    provider_of: Ints,
    cost_of: Floats,
    capacity: Ints,
    elders: int,
    known_visits: int | None,
) -> Ints | None:
    """The chosen pairs of the MIP: each elder at most once, capacities kept; most visits (or
    known_visits, when they are known to be the most), then least cost. None if HiGHS finds no
    solution within its limits."""
    # Imported here: scipy.optimize takes longer to import than a city's flow takes to solve, and
    # only small worlds and rare polishing need it.
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    pairs = np.arange(len(elder_of))
    served = visits[elder_of].astype(float)
    one_each = csr_array((np.ones(len(pairs)), (elder_of, pairs)), shape=(elders, len(pairs)))
    quota = csr_array((served, (provider_of, pairs)), shape=(len(capacity), len(pairs)))
    rules = [LinearConstraint(one_each, 0, 1), LinearConstraint(quota, 0, np.maximum(capacity, 0).astype(float))]
    whole, box = np.ones(len(pairs), np.int8), Bounds(0, 1)
    most = None
    if known_visits is None:
        most = milp(
            -served,
            constraints=rules,
            integrality=whole,
            bounds=box,
            options={"node_limit": _NODE_LIMIT, "mip_rel_gap": 1e-7},
        )
        if most.x is None:
            return None
        known_visits = round(float(served @ np.round(most.x)))
    keep = LinearConstraint(served[None, :], known_visits - 0.5, np.inf)
    least = milp(
        served * cost_of,
        constraints=rules + [keep],
        integrality=whole,
        bounds=box,
        options={"node_limit": _NODE_LIMIT, "mip_rel_gap": 1e-7},
    )
    chosen = least.x if least.x is not None else (most.x if most is not None else None)
    return None if chosen is None else np.flatnonzero(chosen > 0.5)
