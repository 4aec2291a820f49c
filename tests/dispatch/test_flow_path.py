"""The flow path alone (prices, relaxation, repair, polish, bound) on random small worlds.

The engine settles worlds of up to SMALL_ENOUGH_PAIRS eligible pairs with an exact MIP and takes
the flow path above it; here the MIP is switched off (`flow_only`), so that small worlds, which
the independent oracle (tests/dispatch/oracle.py) solves in milliseconds, go the way a city goes.
Every plan keeps the rules, serves the most visits, costs within the spec's 0.1% of the optimum,
and its proof is sound: the visits bound is never below the true maximum, the cost bound never
above the true optimum, and the gap it reports is the gap between its cost and that bound.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import monthly, relax
from dispatch.check import check_plan
from dispatch.formats import plan_to_dict
from dispatch.monthly import plan_month
from tests.dispatch.oracle import cp_sat
from tests.dispatch.worlds import random_world

FLOW_ONLY = {"suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture], "deadline": None}


@pytest.fixture
def flow_only(monkeypatch):
    monkeypatch.setattr(monthly, "SMALL_ENOUGH_PAIRS", 0)


def assert_optimal_and_sound(instance, plan):
    optimum = cp_sat(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == optimum.visits <= plan.quality.visits_upper_bound
    assert plan.cost <= optimum.cost + 1e-3 * abs(optimum.cost) + 1e-6
    assert plan.quality.cost_lower_bound <= optimum.cost + 1e-6
    quality = plan.quality
    gap = max(0.0, (plan.cost - quality.cost_lower_bound) / max(abs(quality.cost_lower_bound), 1e-9))
    assert math.isclose(quality.cost_gap, gap, rel_tol=1e-9, abs_tol=1e-12)


def seeded_world(seed: int):
    """World `seed` of a fixed series: 20-150 elders of 1-3 visits, 2-12 providers (often more than
    the 6 candidates an elder gets), every kind of quota from scarce to plenty, bonus or not."""
    rng = np.random.default_rng([11, seed])
    return random_world(
        rng,
        int(rng.integers(20, 151)),
        int(rng.integers(2, 13)),
        float(rng.choice([-0.4, -0.1, 0.0, 0.02, 0.1, 1.0])),
        bonus=float(rng.choice([0.0, 1.5])),
        most_visits=3,
    )


@pytest.mark.parametrize("seed", range(30))
def test_flow_path_is_optimal_on_30_seeded_worlds(flow_only, seed):
    instance = seeded_world(seed)
    assert_optimal_and_sound(instance, plan_month(instance))


@pytest.mark.parametrize("seed", range(30, 40))
def test_flow_path_from_sampled_prices_is_optimal(flow_only, monkeypatch, seed):
    """The path a city takes: prices guessed from a sample (here 10 elders of 20-150), most elders
    settled up front at those prices, wrong guesses corrected by cancelling cycles."""
    monkeypatch.setattr(relax, "SAMPLE_ELDERS", 10)
    instance = seeded_world(seed)
    assert_optimal_and_sound(instance, plan_month(instance))


@settings(max_examples=40, **FLOW_ONLY)
@given(
    seed=st.integers(0, 2**32 - 1),
    elders=st.integers(1, 40),
    providers=st.integers(1, 6),
    spare=st.sampled_from([-0.4, -0.1, 0.0, 0.02, 0.1, 1.0]),
    bonus=st.sampled_from([0.0, 1.5]),
    width=st.sampled_from([1, 2, 6]),
)
def test_flow_path_is_optimal_even_with_narrow_rows(flow_only, seed, elders, providers, spare, bonus, width):
    """One or two candidates per elder: pricing out and polishing reach the providers left out."""
    instance = random_world(np.random.default_rng(seed), elders, providers, spare, bonus=bonus, most_visits=3)
    assert_optimal_and_sound(instance, plan_month(instance, nearest=width))
