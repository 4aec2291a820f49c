"""The oracles checked against each other, and the engine's default path against the brute force.

CP-SAT (one weighted objective) and the enumeration of every assignment share nothing but the
eligibility of pairs, so their agreement on tiny worlds is what lets CP-SAT stand in for the
brute force on worlds too large to enumerate (tests/dispatch/test_flow_path.py and others).
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.check import check_plan
from dispatch.formats import plan_to_dict
from dispatch.model import Elder, Instance, Policy, Provider, Station
from dispatch.monthly import plan_month
from tests.dispatch.oracle import brute_force, cp_sat
from tests.dispatch.worlds import random_world

TINY = {"max_examples": 60, "deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
worlds = {
    "seed": st.integers(0, 2**32 - 1),
    "elders": st.integers(1, 7),
    "providers": st.integers(1, 3),
    "spare": st.sampled_from([-0.5, -0.2, 0.0, 0.3]),
    "bonus": st.sampled_from([0.0, 1.5]),
}


def tiny_world(seed, elders, providers, spare, bonus):
    return random_world(np.random.default_rng(seed), elders, providers, spare, bonus=bonus, most_visits=3)


@settings(**TINY)
@given(**worlds)
def test_cp_sat_finds_what_enumerating_every_assignment_finds(seed, elders, providers, spare, bonus):
    instance = tiny_world(seed, elders, providers, spare, bonus)
    enumerated, solved = brute_force(instance), cp_sat(instance)
    assert solved.visits == enumerated.visits
    assert abs(solved.cost - enumerated.cost) <= 1e-5  # CP-SAT's costs are whole millimetres


@settings(**TINY)
@given(**worlds)
def test_the_engine_finds_what_enumerating_every_assignment_finds(seed, elders, providers, spare, bonus):
    instance = tiny_world(seed, elders, providers, spare, bonus)
    plan, optimum = plan_month(instance), brute_force(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == optimum.visits
    assert plan.cost <= optimum.cost + 1e-3 * abs(optimum.cost) + 1e-6


def test_the_brute_force_sees_quotas_splits_and_continuity():
    """A hand-checked world: the oracle itself must keep the rules it is used to judge."""
    near, far = (Station(20.0, 110.30),), (Station(20.0, 110.32),)  # 2.0898 km apart
    providers = [
        Provider("NEAR", 3, frozenset({"meal"}), ("4601",), near),
        Provider("FAR", 5, frozenset({"meal"}), ("4601",), far),
    ]
    elders = [
        Elder("three", 20.0, 110.30, "460106001001", 3, frozenset({"meal"})),
        Elder("two", 20.0, 110.30, "460106001001", 2, frozenset({"meal"}), previous_provider="FAR"),
        Elder("one", 20.0, 110.30, "460106001001", 1, frozenset({"meal"})),
    ]
    instance = Instance.build("2026-12", Policy(5.0, 1.5), elders, providers)
    optimum = brute_force(instance)
    # NEAR takes 3 visits: "three" alone at 0 km, or "two" + "one"; FAR takes the rest at 2.09 km,
    # "two" with its bonus. Cheapest: "three" near (0), "two" far (2 x 0.59), "one" far (2.09).
    assert optimum.visits == 6 and optimum.provider == (0, 1, 1)
    assert abs(optimum.cost - (2 * (2.0898 - 1.5) + 2.0898)) < 1e-4
    assert cp_sat(instance).provider == optimum.provider
