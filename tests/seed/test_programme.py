"""The seeded elders' categories and ability levels agree with the scenario's policy: loading it changes
no elder's visits a month."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from seed.programme import SURVEY_DAY, policy
from seed.world import generate_world
from service.entitlements.matching import Policy, PolicyBook, entitlement, facts_on
from service.entitlements.service import PolicyCreate, rule_of, stored_rule


@pytest.mark.parametrize(("scenario", "area"), [("guandu", "530111"), ("haikou", "460100")])
def test_the_policy_gives_every_seeded_elder_the_visits_it_was_drawn(scenario, area):
    world = generate_world(scenario, elders=3000)
    body = PolicyCreate.model_validate(policy(scenario, area))  # the API's own rules
    prefixes = ("530111",) if scenario == "guandu" else ("460105", "460106", "460107", "460108")
    book = PolicyBook([Policy(1, body.name, prefixes, [rule_of(stored_rule(r)) for r in body.rules])])
    day = date(2026, 12, 1)
    for e in world.elders:
        facts = facts_on(
            day,
            e.id_number,
            e.living_alone,
            [(c, SURVEY_DAY) for c in e.categories],
            [(e.assessed_on, 1, e.ability_level)],
        )
        decided = entitlement(book, e.area_code, facts, e.visits_per_month, None)
        assert (decided.source, decided.visits_per_month) == ("policy", e.visits_per_month), e
    levels = Counter(e.ability_level for e in world.elders)
    assert set(levels) == {"intact", "mild", "moderate", "severe", "total"}
    categories = Counter(c for e in world.elders for c in e.categories)
    assert categories["living_alone"] == sum(e.living_alone for e in world.elders)
    assert 0.02 < (categories["dibao"] + categories["tekun"]) / len(world.elders) < 0.12
    assert 0.2 < categories["empty_nest"] / len(world.elders) < 0.35
