"""A proof of quality: a lower bound on the cost of any plan serving as many visits, from LP duality.

For provider prices beta >= 0 and a value gamma of one visit, every plan serving V visits costs at
least  gamma*V - sum_j quota_j*beta_j - sum_i visits_i*max(0, gamma - m_i),  where m_i is the least
of (per-visit cost + beta_j) over ALL providers eligible for elder i, not only the candidates the
optimiser looked at. Any beta gives a valid bound (weak duality); with the exact LP prices of the
relaxation (dispatch/prices.py), after pricing out every eligible pair left out, the bound is the
LP optimum over all eligible pairs itself.

Pricing out is also how the candidate rows are checked: an elder with a provider outside its row
that is cheaper at these prices than what it pays now is a "violator", and gets a new row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import max_flow

from dispatch.arrays import Floats, Ints
from dispatch.flow import COST_UNITS_PER_KM
from dispatch.prices import Prices
from dispatch.reach import Candidates, Eligibility

_SAFETY_KM = 1e-9  # per visit, for floating-point rounding in the bound itself
_VIOLATION_KM = 1.0 / COST_UNITS_PER_KM  # below one cost unit, the flow could not have seen it
_BLOCK = 4096


@dataclass(frozen=True, eq=False)
class Pricing:
    least: Floats  # (elders,) lower bound of min over all eligible j of (per-visit km + beta_j)
    outside: Floats  # (elders,) a lower bound of the same over eligible providers outside the row
    violators: Ints  # elders with a provider outside their row cheaper than their own choice


def price_out(candidates: Candidates, per_visit: Floats, prices: Prices, eligibility: Eligibility) -> Pricing:
    beta = prices.beta / COST_UNITS_PER_KM
    gamma = prices.gamma / COST_UNITS_PER_KM
    row = np.where(candidates.provider >= 0, per_visit + beta[np.maximum(candidates.provider, 0)], np.inf).min(axis=1)
    potential = np.minimum(row, gamma)
    # Providers outside a row cost at least `outside` at the scan's prices; prices moved since by
    # at least min(beta - scan_beta), so that bounds them now. Only the rest need exact pricing.
    outside = candidates.outside + float((beta - candidates.scan_beta).min())
    least = np.minimum(row, outside)
    loose = np.flatnonzero(outside < potential - _VIOLATION_KM)
    bonus = eligibility.instance.policy.continuity_bonus_km
    providers = np.arange(len(beta))
    for start in range(0, len(loose), _BLOCK):
        block = loose[start : start + _BLOCK]
        ok, km = eligibility.all_km(block)
        priced = km - bonus * (providers[None, :] == eligibility.previous[block][:, None]) + beta
        least[block] = np.where(ok, priced, np.inf).min(axis=1)
    violators = loose[least[loose] < potential[loose] - _VIOLATION_KM]
    return Pricing(least, outside, violators)


@dataclass(frozen=True)
class DualBound:
    cost: float  # km: no plan serving that many visits costs less
    gamma: float  # km: the value of a visit the bound holds at; polishing fixes pairs at the same one


def dual_bound(least: Floats, visits: Ints, quotas: Ints, prices: Prices, visits_served: int) -> DualBound:
    """The dual bound at the prices' own gamma and at the best gamma for these beta; the larger."""
    beta = prices.beta / COST_UNITS_PER_KM
    usable = np.isfinite(least)
    m, v = least[usable], visits[usable]
    if not len(m) or visits_served == 0:
        return DualBound(0.0, prices.gamma / COST_UNITS_PER_KM)
    quota_term = float(np.asarray(quotas, float) @ beta)

    def bound(gamma: float) -> float:
        return gamma * visits_served - quota_term - float((v * np.maximum(0.0, gamma - m)).sum())

    order = np.argsort(m)
    enough = int(np.searchsorted(np.cumsum(v[order]), visits_served))
    gamma = max((prices.gamma / COST_UNITS_PER_KM, float(m[order][min(enough, len(m) - 1)])), key=bound)
    return DualBound(bound(gamma) - _SAFETY_KM * visits_served, gamma)


def visits_upper_bound(candidates: Candidates, visits: Ints, quotas: Ints) -> int:
    """The most visits any plan can serve, by the LP over ALL eligible pairs: elders with the same
    set of eligible providers are interchangeable for this question, so the max flow runs over a
    few thousand groups instead of every elder."""
    if len(visits) == 0 or len(quotas) == 0:
        return 0
    sets = np.ascontiguousarray(candidates.eligible_sets)
    keys = sets.view(np.dtype((np.void, sets.shape[1]))).ravel()
    groups, member = np.unique(keys, return_inverse=True)
    demand = np.bincount(member.ravel(), weights=visits, minlength=len(groups)).astype(np.int64)
    eligible = np.unpackbits(
        np.frombuffer(groups.tobytes(), np.uint8).reshape(len(groups), -1), axis=1, count=len(quotas)
    ).astype(bool)
    group_of, provider_of = np.nonzero(eligible)
    source, sink = len(groups) + len(quotas), len(groups) + len(quotas) + 1
    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(np.full(len(groups), source), np.arange(len(groups)), demand)
    solver.add_arcs_with_capacity(group_of, len(groups) + provider_of, demand[group_of])
    solver.add_arcs_with_capacity(
        len(groups) + np.arange(len(quotas)), np.full(len(quotas), sink), np.asarray(quotas, np.int64)
    )
    if solver.solve(source, sink) != solver.OPTIMAL:
        return int(demand[eligible.any(axis=1)].sum())
    return int(solver.optimal_flow())
