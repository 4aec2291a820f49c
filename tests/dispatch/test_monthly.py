"""The monthly optimiser against the independent exact oracle (tests/dispatch/oracle.py) and the LP bound."""

import numpy as np
import pytest

from dispatch import monthly
from dispatch.check import check_plan
from dispatch.formats import instance_from_dict, plan_to_dict
from dispatch.model import Elder, Instance, Policy, Provider, Station
from dispatch.monthly import plan_month
from tests.dispatch.oracle import cp_sat
from tests.dispatch.worlds import lp_optimum, random_world


def assert_optimal(instance, plan, optimum):
    """Valid, the most visits, and within the spec's 0.1% of the least cost with them."""
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == optimum.visits
    assert plan.cost <= optimum.cost + 1e-3 * abs(optimum.cost) + 1e-6


@pytest.mark.parametrize("spare", [0.02, -0.3, 0.0, 0.5], ids=["tight", "scarce", "exact", "plenty"])
@pytest.mark.parametrize("bonus", [0.0, 1.5], ids=["no-continuity", "continuity"])
def test_small_worlds_match_the_exact_optimum(spare, bonus):
    for seed in range(6):
        instance = random_world(np.random.default_rng(seed), 25, 4, spare, bonus=bonus, most_visits=3)
        assert_optimal(instance, plan_month(instance), cp_sat(instance))


@pytest.mark.parametrize("seed,spare", [(1, 0.02), (3, -0.2), (5, 0.02)])
def test_medium_worlds_reach_the_maximum_and_the_lp_bound(seed, spare, monkeypatch):
    """The flow-and-chains path alone (these worlds have fewer eligible pairs than the engine's
    exact MIP takes, so it is switched off), within 0.1% of the LP relaxation itself."""
    monkeypatch.setattr(monthly, "SMALL_ENOUGH_PAIRS", 0)
    instance = random_world(np.random.default_rng(seed), 900, 12, spare, max_km=4.0)
    plan = plan_month(instance)
    _, lp_cost = lp_optimum(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == cp_sat(instance).visits
    assert plan.cost <= lp_cost + 1e-3 * abs(lp_cost)


def test_elders_without_eligible_provider_are_reported():
    stations = (Station(20.0, 110.30), Station(20.1, 110.30))
    providers = [Provider("P1", 1, frozenset({"meal"}), ("460106001", "460107"), stations)]
    elders = [
        Elder("near", 20.0, 110.301, "460106001001", 1, frozenset({"meal"})),
        Elder("second-station", 20.1, 110.301, "460107002003", 1, frozenset({"meal"})),
        Elder("wrong-service", 20.0, 110.302, "460106001001", 1, frozenset({"clean"})),
        Elder("far", 20.5, 110.3, "460106001001", 1, frozenset({"meal"})),
    ]
    plan = plan_month(Instance.build("2026-12", Policy(5.0), elders, providers))
    reasons = {u.elder: u.reason for u in plan.unassigned}
    assert plan.visits_assigned == 1
    assert reasons["wrong-service"] == reasons["far"] == "no_eligible_provider"
    assert sum(r == "quota_exhausted" for r in reasons.values()) == 1
    assert plan.shortfall[0].street == "460106001" and plan.shortfall[0].no_eligible_provider == 2


def test_two_visit_elders_are_never_split_and_quota_parity_is_respected():
    station = (Station(20.0, 110.3),)
    providers = [
        Provider("A", 3, frozenset({"meal"}), ("4601",), station),
        Provider("B", 1, frozenset({"meal"}), ("4601",), (Station(20.0, 110.31),)),
    ]
    elders = [Elder(f"E{i}", 20.0, 110.3 + i * 1e-3, "460106001001", 2, frozenset({"meal"})) for i in range(3)]
    instance = Instance.build("2026-12", Policy(5.0), elders, providers)
    plan = plan_month(instance)
    assert_optimal(instance, plan, cp_sat(instance))
    assert plan.visits_assigned == 2


def test_continuity_keeps_the_previous_provider_and_explains_it():
    providers = [
        Provider("NEAR", 5, frozenset({"meal"}), ("4601",), (Station(20.0, 110.30),)),
        Provider("OLD", 5, frozenset({"meal"}), ("4601",), (Station(20.0, 110.31),)),
    ]
    elder = Elder("E1", 20.0, 110.301, "460106001001", 1, frozenset({"meal"}), previous_provider="OLD")
    kept = plan_month(Instance.build("2026-12", Policy(5.0, 1.5), [elder], providers))
    (why,) = kept.explanations
    assert (why.provider, why.runner_up, why.continuity, why.kept_by_continuity) == ("OLD", "NEAR", True, True)
    assert why.runner_up_extra_km < 0
    plain = plan_month(Instance.build("2026-12", Policy(5.0, 0.0), [elder], providers))
    assert plain.explanations[0].provider == "NEAR" and not plain.explanations[0].continuity


@pytest.mark.parametrize("elders, providers", [(0, 1), (1, 0), (0, 0)])
def test_empty_sides_give_an_honest_plan(elders, providers):
    document = {
        "month": "2026-12",
        "policy": {"max_km": 8.0},
        "elders": [
            {"id": "E1", "lat": 25.01, "lon": 102.7, "area": "530111001001", "visits": 2, "services": ["clean"]}
        ][:elders],
        "providers": [
            {
                "id": "P1",
                "quota": 5,
                "services": ["clean"],
                "areas": ["530111"],
                "stations": [{"lat": 25.0, "lon": 102.7}],
            }
        ][:providers],
    }
    instance = instance_from_dict(document)
    plan = plan_to_dict(plan_month(instance))
    assert plan["visits_assigned"] == 0 and plan["assignments"] == []
    assert [u["reason"] for u in plan["unassigned"]] == ["no_eligible_provider"] * elders
    assert check_plan(instance, plan) == []
