"""Polishing a repaired plan with a small MIP over the few pairs that can still matter.

On a city, rounding the relaxation's few split elders costs next to nothing; on a world of a few
thousand elders it can cost more than the 0.1% the spec allows, or a visit or two. The LP prices
(dispatch/prices.py) say where a better plan could differ: for a plan serving as many visits as the
LP, its cost is the LP bound plus, for every elder, visits x the reduced cost of its choice
(cost + price of the provider - the elder's own potential; for leaving it unserved, the value of
its visits), all >= 0. So no plan cheaper than the current one uses a pair whose reduced cost alone
exceeds the current gap: those stay as they are (reduced-cost fixing), and HiGHS decides the rest
exactly -- first the most visits, then the least cost. When even that is too many pairs for a
quick MIP, the cheapest ones are taken: no longer a proof, still an improvement or nothing.
"""

from __future__ import annotations

import numpy as np

MAX_FREE_PAIRS = 3000  # pairs besides the plan's own that the MIP may choose; HiGHS takes seconds
_NODE_LIMIT = 20_000  # branch-and-bound nodes per stage: bounded work, the same on every machine


def polish(visits, provider, cost, quotas, slot, beta, gamma, least, lower, proven: bool):
    """A better slot per elder (-1: unserved) than `slot`, or None. cost: per-visit km of each
    candidate slot; beta, gamma, least: the LP prices and each elder's least priced cost (km);
    lower: the LP bound; proven: the plan already serves the most visits possible."""
    rows = np.arange(len(visits))
    served = slot >= 0
    potential = np.minimum(gamma, least)
    reduced = np.where(provider >= 0, cost + beta[np.maximum(provider, 0)] - potential[:, None], np.inf)
    weight = visits[:, None] * np.maximum(reduced, 0.0)
    weight[rows[served], slot[served]] = np.inf  # the plan's own pairs are always in the MIP
    plan_cost = float((visits[served] * cost[rows[served], slot[served]]).sum())
    budget = plan_cost - lower if proven else np.inf
    pair_elder, pair_slot = np.nonzero(np.isfinite(weight) & (weight <= budget))
    keep = np.argsort(weight[pair_elder, pair_slot], kind="stable")[:MAX_FREE_PAIRS]
    free = np.unique(pair_elder[keep])
    if not len(free):
        return None
    choice = np.zeros(provider.shape, bool)
    choice[pair_elder[keep], pair_slot[keep]] = True
    choice[free[served[free]], slot[free[served[free]]]] = True
    elder_of, slot_of = np.nonzero(choice)
    fixed = served.copy()
    fixed[free] = False
    taken = np.bincount(provider[rows[fixed], slot[fixed]], weights=visits[fixed], minlength=len(quotas))
    best = _assign(visits, elder_of, provider[elder_of, slot_of], cost[elder_of, slot_of],
                   np.asarray(quotas) - taken, len(visits), int(visits[free[served[free]]].sum()) if proven else None)
    if best is None:
        return None
    new = slot.copy()
    new[free] = -1
    new[elder_of[best]] = slot_of[best]
    new_served = new >= 0
    before = (int(visits[served].sum()), -plan_cost)
    after = (int(visits[new_served].sum()), -float((visits[new_served] * cost[rows[new_served], new[new_served]]).sum()))
    return new if after > before else None


def _assign(visits, elder_of, provider_of, cost_of, capacity, elders, known_visits) -> np.ndarray | None:
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
    options = {"node_limit": _NODE_LIMIT, "mip_rel_gap": 1e-7}
    whole, box = np.ones(len(pairs)), Bounds(0, 1)
    most = None
    if known_visits is None:
        most = milp(-served, constraints=rules, integrality=whole, bounds=box, options=options)
        if most.x is None:
            return None
        known_visits = float(served @ np.round(most.x))
    keep = LinearConstraint(served[None, :], known_visits - 0.5, np.inf)
    least = milp(served * cost_of, constraints=rules + [keep], integrality=whole, bounds=box, options=options)
    chosen = least.x if least.x is not None else (most.x if most is not None else None)
    return None if chosen is None else np.flatnonzero(chosen > 0.5)
