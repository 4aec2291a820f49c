"""Random small worlds: every plan passes the checker and is optimal by the independent oracle."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.check import check_plan
from dispatch.formats import plan_to_dict
from dispatch.monthly import plan_month
from tests.dispatch.oracle import cp_sat
from tests.dispatch.worlds import random_world


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    elders=st.integers(1, 30),
    providers=st.integers(1, 6),
    spare=st.sampled_from([-0.4, -0.1, 0.0, 0.02, 0.1, 1.0]),
    bonus=st.sampled_from([0.0, 1.5]),
    most_visits=st.sampled_from([2, 3]),
)
def test_every_plan_is_valid_and_serves_the_most_visits(seed, elders, providers, spare, bonus, most_visits):
    instance = random_world(np.random.default_rng(seed), elders, providers, spare, bonus=bonus, most_visits=most_visits)
    plan = plan_month(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    optimum = cp_sat(instance)
    assert plan.visits_assigned == optimum.visits
    assert plan.cost <= optimum.cost + 1e-3 * abs(optimum.cost) + 1e-6
