"""The exact assignment by MIP (HiGHS through scipy), for instances small enough to afford it.

The flow-and-chains path is provably within 0.1% on city-sized instances, where integrality hardly
matters; on a few dozen elders one 2-visit elder is a large share of the cost, chains of 1-visit
moves cannot always reach the optimum, and the flow bound is loose. There the MIP is cheap and
settles it: first the most visits, then the least cost with that many.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.arrays import Floats, Ints

SMALL_ENOUGH_PAIRS = 4000  # eligible (elder, provider) pairs; HiGHS answers in well under a second


@dataclass(frozen=True)
class ExactAssignment:
    provider: Ints  # (elders,) provider index or -1
    cost_lower_bound: float


def exact_assignment(visits: Ints, provider: Ints, cost: Floats, quotas: Ints) -> ExactAssignment | None:
    """provider/cost (elders, slots) listing every eligible pair; None if HiGHS does not prove it."""
    # Imported here: scipy.optimize takes longer to import than a city's flow takes to solve, and
    # only small worlds and rare polishing need it.
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    elder_of, slot_of = np.nonzero(provider >= 0)
    if not len(elder_of):
        return ExactAssignment(np.full(len(visits), -1), 0.0)
    pairs = np.arange(len(elder_of))
    served = visits[elder_of].astype(float)
    one_each = csr_array((np.ones(len(pairs)), (elder_of, pairs)), shape=(len(visits), len(pairs)))
    quota = csr_array((served, (provider[elder_of, slot_of], pairs)), shape=(len(quotas), len(pairs)))
    rules = [LinearConstraint(one_each, 0, 1), LinearConstraint(quota, 0, np.asarray(quotas, float))]
    whole, box = np.ones(len(pairs), np.int8), Bounds(0, 1)
    most = milp(-served, constraints=rules, integrality=whole, bounds=box, options={"mip_rel_gap": 0})
    if most.status != 0:
        return None
    keep = LinearConstraint(served[None, :], round(-most.fun) - 0.5, np.inf)
    pair_cost = served * cost[elder_of, slot_of]
    least = milp(pair_cost, constraints=rules + [keep], integrality=whole, bounds=box, options={"mip_rel_gap": 1e-7})
    if least.status != 0:
        return None
    chosen = least.x > 0.5
    assigned = np.full(len(visits), -1)
    assigned[elder_of[chosen]] = provider[elder_of[chosen], slot_of[chosen]]
    return ExactAssignment(assigned, float(getattr(least, "mip_dual_bound", least.fun)))
