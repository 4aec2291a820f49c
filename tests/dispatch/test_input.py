"""What the engine accepts: any whole number of visits from 1 up, on every path; anything else is
refused where the instance is built, with the elder named."""

import math

import numpy as np
import pytest

from dispatch import monthly
from dispatch.check import check_plan
from dispatch.formats import instance_from_dict, plan_to_dict
from dispatch.model import MAX_VISITS, Elder, Instance, Policy
from dispatch.monthly import plan_month
from tests.dispatch.oracle import cp_sat
from tests.dispatch.worlds import random_world


def document(visits) -> dict:
    return {
        "month": "2026-12",
        "policy": {"max_km": 8.0},
        "elders": [
            {"id": "E1", "lat": 25.01, "lon": 102.7, "area": "530111001001", "visits": 1, "services": ["clean"]},
            {"id": "E2", "lat": 25.01, "lon": 102.7, "area": "530111001001", "visits": visits, "services": ["clean"]},
        ],
        "providers": [
            {
                "id": "P1",
                "quota": 50,
                "services": ["clean"],
                "areas": ["530111"],
                "stations": [{"lat": 25.0, "lon": 102.7}],
            }
        ],
    }


@pytest.mark.parametrize("visits", [0, -1, 1.5, math.nan, MAX_VISITS + 1])
def test_a_visit_count_that_is_not_a_whole_number_from_1_is_refused_naming_the_elder(visits):
    with pytest.raises(ValueError, match=r"^elder E2: visits must be a whole number from 1 to"):
        instance_from_dict(document(visits))
    with pytest.raises(ValueError, match=r"^elder E2: visits must be"):
        Instance.build("2026-12", Policy(8.0), [Elder("E2", 25.0, 102.7, "530111", visits, frozenset())], [])


@pytest.mark.parametrize("visits", [3, 4, 7])
def test_any_visit_count_is_served_whole(visits):
    instance = instance_from_dict(document(visits))
    plan = plan_month(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert [(a.elder, a.visits) for a in plan.assignments] == [("E1", 1), ("E2", visits)]


def test_a_three_visit_elder_no_longer_costs_a_visit_on_the_flow_path(monkeypatch):
    """A world where the repair left a split 3-visit elder waiting (it tried only 2-visit ones)
    and polishing did not bring it back: 25 visits of 26."""
    monkeypatch.setattr(monthly, "SMALL_ENOUGH_PAIRS", 0)
    instance = random_world(np.random.default_rng(4), 20, 5, 0.5, max_km=3.0, most_visits=3)
    plan, optimum = plan_month(instance), cp_sat(instance)
    assert check_plan(instance, plan_to_dict(plan)) == []
    assert plan.visits_assigned == optimum.visits == 26
    assert plan.cost <= optimum.cost + 1e-3 * abs(optimum.cost)
