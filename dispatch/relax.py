"""The flow relaxation solved only where the choice is contested, and certified by its prices.

Given good guesses of the providers' prices (dispatch/prices.py), most elders have one provider that
beats every other by a clear margin at those prices: an optimal flow sends them there whatever the
rest does. They are settled up front (their visits simply come off that provider's quota) and the
min-cost flow runs only over the contested rest -- on a city, a third of the elders.

Trust is not needed: the settled elders and the flow together form one flow over every candidate,
whose residual graph (dispatch/residual.py) is then searched for what a wrong guess would leave: a
negative cycle (cancelled), a chain to free quota that saves (followed), a chain from the pool to
free quota (one more visit: followed, shortest first). When none is left the combined flow is
exactly optimal -- maximal, then cheapest -- over the candidates, and its prices prove it. A guess
bad enough to need too many such fixes widens the margin and solves again (in the end over everyone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dispatch.arrays import Ints
from dispatch.flow import cheapest_max_flow, cost_units
from dispatch.prices import Prices, flow_prices, prices_of
from dispatch.reach import Eligibility
from dispatch.residual import INFINITE, Residual

# Settle an elder only if its best provider beats the next by this much at the guessed prices;
# sampled prices are within ~0.2 km of the LP's, and a wrong settlement only costs another round.
SETTLE_MARGIN_UNITS = 3_000  # 0.3 km
ROUNDS = 2  # margins x4 each round; the last round contests everyone
FIXES = 400  # cycles and chains followed before a guess counts as too far off
# Prices are guessed from an evenly spread sample of this many elders with quotas scaled to match;
# below twice that, the flow simply runs over everyone.
SAMPLE_ELDERS = 50_000


@dataclass(frozen=True, eq=False)
class Relaxation:
    flow: Ints  # (elders, slots) visits along each candidate slot
    prices: Prices
    contested: int  # elders that went through the flow in the last round


def solve_relaxation(
    visits: Ints,
    provider: Ints,
    units: Ints,
    quotas: Ints,
    span: int,
    guess: Prices | None = None,
    outside_units: Ints | None = None,
) -> Relaxation:
    """Optimal (maximal, then cheapest) flow over the candidate table, with its prices.

    outside_units: per elder, a lower bound of cost + guessed price over providers not in its row
    (at the guess's prices), so that settling also beats every provider left out."""
    quotas = np.asarray(quotas, np.int64)
    margin = SETTLE_MARGIN_UNITS
    for round_ in range(ROUNDS + 1):
        if guess is None or round_ == ROUNDS:
            settled_slot = np.full(len(visits), -1)
        else:
            settled_slot = _settle(visits, provider, units, quotas, guess, outside_units, margin)
        settled = settled_slot >= 0
        flow = np.zeros(provider.shape, np.int64)
        flow[np.flatnonzero(settled), settled_slot[settled]] = visits[settled]
        taken = np.bincount(provider[flow > 0], weights=flow[flow > 0], minlength=len(quotas)).astype(np.int64)
        open_rows = np.flatnonzero(~settled)
        flow[open_rows] = cheapest_max_flow(visits[open_rows], provider[open_rows], units[open_rows], quotas - taken)
        residual = Residual(visits, provider, units, quotas, flow, np.ones(len(visits), bool))
        if optimize(residual, FIXES):
            prices = prices_of(residual, span)
            if prices is not None:
                return Relaxation(residual.flow, prices, len(open_rows))
        margin *= 4
    raise AssertionError("the flow over every elder is optimal, and so has prices")


def optimize(residual: Residual, limit: int) -> bool:
    """Make the residual's flow optimal: cancel negative cycles, follow chains to free quota that
    save, then serve more visits along the cheapest chains. False if `limit` moves do not do it."""
    for _ in range(limit):
        dist, succ, settled = residual.distances()
        if not settled:
            nodes = residual.cycle(succ)
        elif dist[:-1].min() < 0:
            nodes = residual.chain(int(np.argmin(dist[:-1])), succ)
        elif dist[residual.pool] < INFINITE:
            nodes = residual.chain(residual.pool, succ)
        else:
            return True
        if nodes is None or len(nodes) < 2 or not residual.push(nodes):
            return False
    return False


def _settle(
    visits: Ints, provider: Ints, units: Ints, quotas: Ints, guess: Prices, outside_units: Ints | None, margin: int
) -> Ints:
    """Each elder's slot if it is settled at the guessed prices, else -1."""
    valid = provider >= 0
    reduced = np.where(valid, units + guess.beta[np.maximum(provider, 0)], INFINITE)
    best = reduced.argmin(axis=1)
    rows = np.arange(len(visits))
    first = reduced[rows, best]
    reduced[rows, best] = INFINITE
    second = reduced.min(axis=1)
    if outside_units is not None:
        second = np.minimum(second, outside_units)
    sure = valid[rows, best] & (second - first > margin) & (first + margin < guess.gamma)
    slot = np.where(sure, best, -1)
    # Never settle more than a provider can take: keep its clearest elders, contest the rest.
    at = np.where(sure, provider[rows, best], -1)
    order = np.lexsort((-(second - first), at))
    order = order[at[order] >= 0]
    load = np.cumsum(visits[order])
    group_start = np.searchsorted(at[order], at[order])
    before = load - visits[order] - (load - visits[order])[group_start]
    slot[order[before + visits[order] > quotas[at[order]]]] = -1
    return slot


def guess_prices(eligibility: Eligibility, visits: Ints, quotas: Ints, width: int, span: int) -> Prices | None:
    """LP prices of a sample of the city: every k-th elder, each provider's quota scaled by the
    sample's share of visits, over each sampled elder's nearest providers."""
    if len(visits) < 2 * SAMPLE_ELDERS:
        return None
    rows = np.arange(0, len(visits), len(visits) // SAMPLE_ELDERS)
    share = visits[rows].sum() / max(1, visits.sum())
    quotas = np.floor(np.asarray(quotas) * share).astype(np.int64)
    seen = eligibility.scan(width, None, rows)
    units = cost_units(eligibility.per_visit_km(rows, seen.provider, seen.km))
    flow = cheapest_max_flow(visits[rows], seen.provider, units, quotas)
    return flow_prices(visits[rows], seen.provider, units, flow, quotas, span)
