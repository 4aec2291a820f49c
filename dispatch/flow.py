"""The flow relaxation of the monthly problem, solved with OR-Tools' min-cost flow.

Units of flow are visits: elder i supplies its visits, provider j absorbs up to its quota, and the
arc i -> j carries up to visits_i at the per-visit cost (km minus the continuity bonus). OR-Tools'
`solve_max_flow_with_min_cost` gives exactly the lexicographic objective of the spec: as many visits
as possible, then the least cost. What it may do that the spec forbids is split a 2-visit elder
between two providers; dispatch/repair.py repairs those few.

Costs are integers (0.1 m a visit) for the solver; the same integers go to dispatch/prices.py and
dispatch/residual.py, so that "optimal" and "no negative cycle" mean exactly the same thing to all.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from dispatch.arrays import Floats, Ints

# Integer arc costs in units of 0.1 m: rounding moves the total by at most 5 cm a visit (< 1e-4 of
# a typical cost), and keeps cost x nodes far inside int64 for the solver's cost scaling.
COST_UNITS_PER_KM = 10_000


class FlowError(RuntimeError):
    pass


def cost_units(per_visit_km: Floats) -> Ints:
    """Per-visit km -> integer flow units; empty slots (inf) become 0 and must be masked by provider."""
    finite: Floats = np.where(np.isfinite(per_visit_km), per_visit_km, 0.0)
    return np.rint(finite * COST_UNITS_PER_KM).astype(np.int64)


def cheapest_max_flow(visits: Ints, provider: Ints, units: Ints, quotas: Ints) -> Ints:
    """Visits sent along each (elder, slot) of provider/units (elders, slots), provider -1 = empty."""
    elders = provider.shape[0]
    used = provider >= 0
    elder_of_arc = np.broadcast_to(np.arange(elders)[:, None], provider.shape)[used]
    flow = np.zeros(provider.shape, np.int64)
    if not len(elder_of_arc):
        return flow
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        elder_of_arc, elders + provider[used], visits[elder_of_arc], units[used]
    )
    solver.set_nodes_supplies(np.arange(elders + len(quotas)), np.concatenate([visits, -np.asarray(quotas)]))
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise FlowError(f"min-cost flow ended with status {status}")
    flow[used] = solver.flows(np.arange(solver.num_arcs()))
    return flow
