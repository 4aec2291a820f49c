"""The checker catches each kind of broken plan."""

import copy

import numpy as np
import pytest

from dispatch.check import check_plan
from dispatch.formats import plan_to_dict
from dispatch.monthly import plan_month
from tests.dispatch.worlds import random_world


@pytest.fixture(scope="module")
def world():
    instance = random_world(np.random.default_rng(11), 40, 4, -0.2)
    plan = plan_to_dict(plan_month(instance))
    assert check_plan(instance, plan) == [] and plan["assignments"] and plan["unassigned"]
    return instance, plan


def broken(world, change):
    instance, plan = world
    bad = copy.deepcopy(plan)
    change(bad, instance)
    return check_plan(instance, bad)


def two_visit(plan, instance):
    visits = {e.id: e.visits for e in instance.elders}
    return next(a for a in plan["assignments"] if visits[a["elder"]] == 2)


def test_duplicate_elder(world):
    assert any("more than once" in v for v in broken(world, lambda p, i: p["assignments"].append(p["assignments"][0])))


def test_split_visits(world):
    def split(plan, instance):
        a = two_visit(plan, instance)
        a["visits"] = 1

    assert any("no splits" in v for v in broken(world, split))


def test_ineligible_provider(world):
    def swap(p, inst):
        for a in p["assignments"]:
            others = [x.id for x in inst.providers if x.id != a["provider"]]
            a["provider"] = others[0] if others else a["provider"]

    violations = broken(world, swap)
    assert any(("not contracted" in v or "does not offer" in v or "over" in v or "km" in v) for v in violations)


def test_quota_exceeded(world):
    def overfill(plan, instance):
        first = plan["assignments"][0]
        plan["assignments"] += [dict(first, elder=u["elder"], visits=u["visits"]) for u in plan["unassigned"]]
        plan["unassigned"] = []

    assert any("over its quota" in v for v in broken(world, overfill))


def test_missing_and_unknown_elders(world):
    assert any("neither assigned" in v for v in broken(world, lambda p, i: p["assignments"].pop()))
    assert any(
        "unknown" in v
        for v in broken(
            world, lambda p, i: p["assignments"].append({"elder": "nobody", "provider": "P0", "visits": 1, "km": 0.0})
        )
    )


def test_totals_and_km_recomputed(world):
    more = broken(world, lambda p, i: p.update(visits_assigned=p["visits_assigned"] + 1))
    assert any("visits_assigned" in v for v in more)
    assert any("cost is" in v for v in broken(world, lambda p, i: p.update(cost=p["cost"] + 0.5)))
    assert any("plan says" in v for v in broken(world, lambda p, i: p["assignments"][0].update(km=99.0)))


def test_unassigned_reason_must_be_right(world):
    def flip(plan, instance):
        u = plan["unassigned"][0]
        u["reason"] = "no_eligible_provider" if u["reason"] == "quota_exhausted" else "quota_exhausted"

    assert any("should be" in v for v in broken(world, flip))
