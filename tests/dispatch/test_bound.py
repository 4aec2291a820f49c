"""The proof of quality: LP prices read off the flow, the dual bound, and pricing out left-out pairs.

The bound must never exceed the exact optimum (it is a proof), and it must be tight: equal to the
LP relaxation over all eligible pairs, so that the plan's gap on tight-quota worlds is far below 0.1%.
"""

import math

import numpy as np
import pytest

from dispatch import monthly, relax
from dispatch.bound import dual_bound, price_out
from dispatch.check import check_plan
from dispatch.flow import COST_UNITS_PER_KM, cheapest_max_flow, cost_units
from dispatch.formats import plan_to_dict
from dispatch.monthly import plan_month
from dispatch.prices import Prices, chain_ceiling
from dispatch.reach import Eligibility
from dispatch.relax import solve_relaxation
from tests.dispatch.oracle import cp_sat
from tests.dispatch.worlds import lp_optimum, random_world

SPARES = [0.02, -0.3, 0.0, 0.5]


def relaxation(instance, width):
    visits = instance.elders.visits
    quotas = np.array([p.quota for p in instance.providers])
    eligibility = Eligibility(instance)
    span = math.ceil((instance.policy.max_km + instance.policy.continuity_bonus_km) * COST_UNITS_PER_KM) + 1
    candidates = eligibility.scan(width)
    per_visit = eligibility.per_visit_km(np.arange(len(visits)), candidates.provider, candidates.km)
    relaxed = solve_relaxation(visits, candidates.provider, cost_units(per_visit), quotas, span)
    return relaxed, price_out(candidates, per_visit, relaxed.prices, eligibility), per_visit, quotas, span


@pytest.mark.parametrize("spare", SPARES)
@pytest.mark.parametrize("bonus", [0.0, 1.5])
def test_prices_prove_the_relaxation_optimal(spare, bonus):
    """With every eligible provider in the rows, the bound at the flow's visits is its cost."""
    for seed in range(4):
        instance = random_world(np.random.default_rng(seed), 60, 5, spare, bonus=bonus)
        relaxed, pricing, per_visit, quotas, _ = relaxation(instance, width=5)
        served = int(relaxed.flow.sum())
        flow_cost = float((relaxed.flow * np.where(relaxed.flow > 0, per_visit, 0)).sum())
        bound = dual_bound(pricing.least, instance.elders.visits, quotas, relaxed.prices, served).cost
        assert relaxed.prices.maximal and len(pricing.violators) == 0
        assert bound <= flow_cost + 1e-9
        assert flow_cost - bound <= served / COST_UNITS_PER_KM + 1e-6  # integer costs round by half a unit


@pytest.mark.parametrize("spare", SPARES)
@pytest.mark.parametrize("width", [1, 2, 6])
def test_the_bound_never_exceeds_the_exact_optimum(spare, width):
    """Even when the rows leave eligible providers out (width 1, 2), pricing over every eligible
    pair keeps the bound valid."""
    for seed in range(4):
        instance = random_world(np.random.default_rng(100 + seed), 25, 4, spare, bonus=1.5 * (seed % 2))
        optimum = cp_sat(instance)
        relaxed, pricing, _, quotas, _ = relaxation(instance, width)
        bound = dual_bound(pricing.least, instance.elders.visits, quotas, relaxed.prices, optimum.visits).cost
        assert bound <= optimum.cost + 1e-6
        assert plan_month(instance).quality.cost_lower_bound <= optimum.cost + 1e-6


@pytest.mark.parametrize("seed,spare,bonus", [(1, 0.02, 1.5), (2, 0.02, 0.0), (3, -0.2, 1.5), (4, 0.0, 1.5)])
def test_tight_medium_worlds_are_proven_within_the_target(seed, spare, bonus, monkeypatch):
    """The flow, the repair and the bound decide alone (the engine's MIP for small worlds is off)."""
    monkeypatch.setattr(monthly, "SMALL_ENOUGH_PAIRS", 0)
    instance = random_world(np.random.default_rng(seed), 900, 12, spare, bonus=bonus, max_km=4.0)
    plan = plan_month(instance)
    _, lp_cost = lp_optimum(instance)
    visits = cp_sat(instance).visits
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == plan.quality.visits_upper_bound == visits
    assert plan.quality.cost_lower_bound <= lp_cost + 1e-6
    assert plan.quality.cost_gap <= 1e-3
    assert plan.cost <= lp_cost + 1e-3 * abs(lp_cost)


def test_a_wrong_guess_of_prices_is_corrected():
    """Settling elders at badly guessed prices leaves negative cycles; they are cancelled (or the
    flow solved again), and the result is the plain flow's optimum."""
    instance = random_world(np.random.default_rng(5), 400, 8, 0.02, max_km=4.0)
    visits = instance.elders.visits
    quotas = np.array([p.quota for p in instance.providers])
    eligibility = Eligibility(instance)
    candidates = eligibility.scan(4)
    units = cost_units(eligibility.per_visit_km(np.arange(len(visits)), candidates.provider, candidates.km))
    span = 60_000
    plain = cheapest_max_flow(visits, candidates.provider, units, quotas)
    for rng_seed in range(3):
        beta = np.random.default_rng(rng_seed).integers(0, 15_000, len(quotas))
        guess = Prices(beta, chain_ceiling(span, len(quotas)), True)
        relaxed = solve_relaxation(visits, candidates.provider, units, quotas, span, guess)
        assert relaxed.flow.sum() == plain.sum()
        assert (relaxed.flow * units).sum() == (plain * units).sum()
        assert relaxed.prices.maximal


def test_sampled_prices_on_a_city_in_miniature(monkeypatch):
    """The path a city takes (prices guessed from a sample, most elders settled up front), here on
    a world small enough for the oracle."""
    monkeypatch.setattr(relax, "SAMPLE_ELDERS", 150)
    monkeypatch.setattr(monthly, "SMALL_ENOUGH_PAIRS", 0)
    instance = random_world(np.random.default_rng(8), 900, 12, 0.02, max_km=4.0)
    plan = plan_month(instance)
    _, lp_cost = lp_optimum(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == cp_sat(instance).visits
    assert plan.quality.cost_lower_bound <= lp_cost + 1e-6
    assert plan.quality.cost_gap <= 1e-3
