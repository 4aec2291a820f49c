"""The monthly plan: every elder's visits to one provider, as many visits as possible, then the
least distance net of the continuity bonus (docs/dispatch.md).

The pipeline: guessed prices of the providers' quotas from a sample (dispatch/relax.py) -> each
elder's candidate providers at those prices (dispatch/reach.py) -> the flow relaxation, solved
where the choice is contested and certified by its exact LP prices (dispatch/relax.py,
dispatch/prices.py) -> every eligible pair left out priced against those prices, rows that would
gain rescanned and the flow solved again (dispatch/bound.py) -> no splits and nobody needlessly
unserved (dispatch/repair.py) -> the proof of quality from the same prices (dispatch/bound.py).
Small instances whose proof falls short of 0.1% are settled exactly (dispatch/exact.py). Pure:
the caller reads files and measures time.
"""

from __future__ import annotations

import math

import numpy as np

from dispatch.arrays import Bools, Floats, Ints
from dispatch.bound import DualBound, Pricing, dual_bound, price_out, visits_upper_bound
from dispatch.exact import SMALL_ENOUGH_PAIRS, exact_assignment
from dispatch.explain import continuity_flags, runner_up, street_shortfall, unassigned_reasons
from dispatch.flow import COST_UNITS_PER_KM, cost_units
from dispatch.model import NO_ELIGIBLE_PROVIDER, UNASSIGNED_REASONS, Instance, Plan, Quality
from dispatch.polish import polish
from dispatch.prices import Prices
from dispatch.reach import Candidates, Eligibility
from dispatch.relax import guess_prices, solve_relaxation
from dispatch.repair import assigned_slot, settle

# Six providers per elder, chosen at the LP's prices, hold every provider an optimal plan uses for
# all but a few hundred elders of a city; pricing out finds those and gives them new rows.
NEAREST_PROVIDERS = 6
GAP_TARGET = 0.001
PRICING_ROUNDS = 3


def plan_month(instance: Instance, nearest: int = NEAREST_PROVIDERS, prove: bool = True) -> Plan:
    elders, policy = instance.elders, instance.policy
    if not instance.providers:
        return _nobody_to_serve_them(instance)
    visits = elders.visits
    quotas = np.array([p.quota for p in instance.providers], np.int64)
    everyone = np.arange(len(elders))
    eligibility = Eligibility(instance)
    span = math.ceil((policy.max_km + abs(policy.continuity_bonus_km)) * COST_UNITS_PER_KM) + 1
    guess = guess_prices(eligibility, visits, quotas, nearest, span)
    candidates = eligibility.scan(nearest, None if guess is None else guess.beta / COST_UNITS_PER_KM)
    visits_bound = visits_upper_bound(candidates, visits, quotas)
    for round_ in range(PRICING_ROUNDS + 1):
        per_visit = eligibility.per_visit_km(everyone, candidates.provider, candidates.km)
        units = cost_units(per_visit)
        relaxed = solve_relaxation(
            visits, candidates.provider, units, quotas, span, guess, _outside_units(candidates, guess)
        )
        pricing = price_out(candidates, per_visit, relaxed.prices, eligibility)
        if not len(pricing.violators) or round_ == PRICING_ROUNDS:
            break
        guess = relaxed.prices
        candidates = _rescanned(
            candidates, eligibility.scan(nearest, guess.beta / COST_UNITS_PER_KM, pricing.violators), pricing.violators
        )
    slot = assigned_slot(settle(visits, candidates.provider, units, quotas, relaxed.flow))
    assigned = np.where(slot >= 0, candidates.provider[everyone, np.maximum(slot, 0)], -1)
    served_visits, bound = _visits_and_bound(assigned, visits, quotas, relaxed.prices, pricing)
    gap = _gap(_cost(slot, per_visit, visits), bound.cost)
    small = int(candidates.eligible_count.sum()) <= SMALL_ENOUGH_PAIRS
    if not small and (served_visits < visits_bound or gap > GAP_TARGET / 2):
        # Rounding cost more than a city's worth: a small MIP where the LP prices say it may matter.
        better = polish(
            visits,
            candidates.provider,
            per_visit,
            quotas,
            assigned,
            relaxed.prices.beta / COST_UNITS_PER_KM,
            pricing.least,
            pricing.outside,
            bound,
            served_visits == visits_bound,
            lambda rows: _every_pair(eligibility, rows),
        )
        if better is not None:
            assigned = better
            served_visits, bound = _visits_and_bound(assigned, visits, quotas, relaxed.prices, pricing)
    lower = bound.cost

    if small and (served_visits < visits_bound or gap > GAP_TARGET):
        every = eligibility.nearest(len(instance.providers))
        exact = exact_assignment(
            visits, every.provider, eligibility.per_visit_km(everyone, every.provider, every.km), quotas
        )
        if exact is not None:
            assigned, lower = exact.provider, exact.cost_lower_bound
            visits_bound = int(visits[assigned >= 0].sum())  # proven by the MIP

    served = assigned >= 0
    km = np.full(len(elders), np.nan)
    km[served] = eligibility.stations.nearest_km(eligibility.xyz[served], assigned[served])
    continuing = assigned == eligibility.previous
    visits_assigned = int(visits[served].sum())
    cost = float((visits[served] * (km[served] - policy.continuity_bonus_km * continuing[served])).sum())

    other, other_km = runner_up(assigned, candidates.closest, candidates.closest_km)
    continuity, kept = continuity_flags(assigned, eligibility.previous, km, other_km, policy.continuity_bonus_km)
    reasons = unassigned_reasons(assigned, candidates.eligible_count)
    quality = None
    if prove:
        quality = Quality(visits_upper_bound=visits_bound, cost_lower_bound=float(lower), cost_gap=_gap(cost, lower))
    return Plan(
        month=instance.month,
        elders=elders,
        provider_ids=tuple(p.id for p in instance.providers),
        provider=assigned,
        km=km,
        unassigned_reason=reasons,
        runner_up=other,
        runner_up_km=other_km,
        continuity=continuity,
        kept_by_continuity=kept,
        visits_assigned=visits_assigned,
        cost=cost,
        shortfall=street_shortfall(elders, assigned, reasons),
        quality=quality,
    )


def _outside_units(candidates: Candidates, guess: Prices | None) -> Ints | None:
    """Per elder, a lower bound in flow units of cost + guessed price over providers not in its row."""
    if guess is None:
        return None
    shift = float((guess.beta / COST_UNITS_PER_KM - candidates.scan_beta).min())
    bound = (candidates.outside + shift) * COST_UNITS_PER_KM - 1  # units round by up to half a unit
    return np.where(np.isfinite(bound), np.floor(np.minimum(bound, 2.0**60)), 2**60).astype(np.int64)


def _rescanned(table: Candidates, fresh: Candidates, rows: Ints) -> Candidates:
    """The table with these rows replaced; their `outside` re-expressed at the table's scan prices."""
    arrays = {}
    for name in ("provider", "km", "eligible_count", "eligible_sets", "outside", "closest", "closest_km"):
        array = getattr(table, name).copy()
        array[rows] = getattr(fresh, name)
        arrays[name] = array
    arrays["outside"][rows] += float((table.scan_beta - fresh.scan_beta).min())
    return Candidates(**arrays, scan_beta=table.scan_beta)


def _visits_and_bound(
    assigned: Ints, visits: Ints, quotas: Ints, prices: Prices, pricing: Pricing
) -> tuple[int, DualBound]:
    served_visits = int(visits[assigned >= 0].sum())
    return served_visits, dual_bound(pricing.least, visits, quotas, prices, served_visits)


def _every_pair(eligibility: Eligibility, rows: Ints) -> tuple[Bools, Floats]:
    """For a few elders: (eligible mask, per-visit km) against every provider."""
    ok, km = eligibility.all_km(rows)
    every = np.broadcast_to(np.arange(km.shape[1]), km.shape)
    return ok, eligibility.per_visit_km(rows, every, km)


def _cost(slot: Ints, per_visit: Floats, visits: Ints) -> float:
    rows = np.flatnonzero(slot >= 0)
    return float((visits[rows] * per_visit[rows, slot[rows]]).sum())


def _gap(cost: float, lower: float) -> float:
    return max(0.0, (cost - lower) / max(abs(lower), 1e-9))


def _nobody_to_serve_them(instance: Instance) -> Plan:
    """No provider at all (none under contract this month): every elder unassigned, for that reason."""
    count = len(instance.elders)
    nobody = np.full(count, -1, np.int64)
    reasons = np.full(count, UNASSIGNED_REASONS.index(NO_ELIGIBLE_PROVIDER), np.int8)
    return Plan(
        month=instance.month,
        elders=instance.elders,
        provider_ids=(),
        provider=nobody,
        km=np.full(count, np.nan),
        unassigned_reason=reasons,
        runner_up=nobody.copy(),
        runner_up_km=np.full(count, np.nan),
        continuity=np.zeros(count, bool),
        kept_by_continuity=np.zeros(count, bool),
        visits_assigned=0,
        cost=0.0,
        shortfall=street_shortfall(instance.elders, nobody, reasons),
        quality=Quality(visits_upper_bound=0, cost_lower_bound=0.0, cost_gap=0.0),
    )
