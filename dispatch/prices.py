"""LP prices of the flow relaxation, read off the residual graph of an optimal flow.

The relaxation (dispatch/flow.py) is a min-cost flow; OR-Tools does not expose its node potentials,
but they follow from the flow. Its residual graph at provider level (dispatch/residual.py: providers
and a pool U of unserved visits) gets a sink t, with j -> t when provider j has quota left and
t -> j when it has load; the shortest distance phi(x) from x to t is then a set of potentials under
which no residual arc has negative reduced cost (the flow is optimal: no negative cycle). phi(j) is
the price beta_j >= 0 of provider j's quota (what one more visit of room there is worth) and phi(U)
the value gamma of a visit. At the maximum flow U cannot reach t (that would be one more visit),
and providers where demand exceeds supply cannot either; a virtual edge U -> t of cost D, more than
any chain of real edges, prices them all consistently at the scale of D.

Every elder moves one visit at a time in that graph, so a 2-visit elder split or half-served by
the relaxation counts: these are the LP's prices, not those of 1-visit moves only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.arrays import Ints
from dispatch.residual import INFINITE, Residual


@dataclass(frozen=True)
class Prices:
    beta: Ints  # (providers,) price of one visit of quota, cost units, >= 0
    gamma: int  # value of one visit served, cost units (D when the flow is maximal)
    maximal: bool  # no real chain from the pool to free quota: the flow serves the most visits


def chain_ceiling(span: int, providers: int) -> int:
    """D: more than any chain of real edges can cost or save (each edge is within 2 x span, the
    largest per-visit cost in units, and a shortest chain visits each node once)."""
    return 2 * span * (providers + 2) + 1


def prices_of(residual: Residual, span: int) -> Prices | None:
    """The prices of the residual's flow; None if it is not optimal (a negative cycle remains).
    span: an upper bound of |per-visit cost| in units, the same for every call of one instance."""
    count = residual.pool
    pool, sink = count, count + 1
    weight = np.full((count + 2, count + 2), INFINITE, np.int64)
    weight[: count + 1, : count + 1] = residual.weight
    weight[np.flatnonzero(residual.spare() >= 1), sink] = 0
    weight[sink, np.flatnonzero(residual.load > 0)] = 0
    weight[pool, sink] = chain_ceiling(span, count)
    np.fill_diagonal(weight, INFINITE)
    dist = shortest_to_sink(weight)
    if dist is None:
        return None
    gamma = int(dist[pool])
    return Prices(np.maximum(dist[:count], 0), gamma, gamma == chain_ceiling(span, count))


def shortest_to_sink(weight: Ints) -> Ints | None:
    """Bellman-Ford distances to the sink (last node); None if a negative cycle remains."""
    size = len(weight)
    dist = np.full(size, INFINITE, np.int64)
    dist[-1] = 0
    for _ in range(size + 1):
        through = (weight + dist[None, :]).min(axis=1)
        through[through >= INFINITE // 2] = INFINITE  # unreachable stays unreachable
        better = np.minimum(dist, through)
        if np.array_equal(better, dist):
            return dist
        dist = better
    return None


def flow_prices(visits: Ints, provider: Ints, units: Ints, flow: Ints, quotas: Ints, span: int) -> Prices | None:
    """The LP prices of an optimal flow over a candidate table (flow is not modified)."""
    residual = Residual(visits, provider, units, quotas, flow.copy(), np.ones(len(visits), bool))
    return prices_of(residual, span)
