"""Each hard rule alone on a tiny hand-built world, and the bulk path agreeing with the rules."""

import numpy as np

from dispatch.model import Elder, Policy, Provider, Station
from dispatch.reach import Eligibility
from dispatch.rules import (
    contracted_area,
    eligibility,
    has_quota,
    nearest_station_km,
    not_declined,
    offers_emergency,
    offers_services,
    within_reach,
)
from tests.dispatch.worlds import random_world

POLICY = Policy(max_km=5.0, continuity_bonus_km=1.0)
HOME = Elder("E1", 20.0, 110.3, "460106001002", 2, frozenset({"meal", "clean"}), "P1")


def provider(**change):
    fields = {
        "id": "P1",
        "quota": 10,
        "services": frozenset({"meal", "clean", "health"}),
        "areas": ("460106001",),
        "stations": (Station(20.0, 110.31),),
    }
    fields.update(change)
    return Provider(**fields)


def test_offers_services_needs_every_service():
    assert offers_services(provider(), HOME) is None
    reason = offers_services(provider(services=frozenset({"meal"})), HOME)
    assert reason.rule == "service_not_offered" and "clean" in reason.detail


def test_contracted_area_is_a_prefix():
    assert contracted_area(provider(areas=("460106",)), HOME) is None
    assert contracted_area(provider(areas=("460107001", "460106001")), HOME) is None
    assert contracted_area(provider(areas=("460106002",)), HOME).rule == "area_not_contracted"


def test_nearest_station_and_reach():
    two = provider(stations=(Station(20.3, 110.3), Station(20.0, 110.31)))
    km = nearest_station_km(two, HOME.lat, HOME.lon)
    assert 1.0 < km < 1.1  # the second station, ~1.05 km east
    assert within_reach(km, POLICY) is None
    assert within_reach(5.0, POLICY) is None  # the edge is allowed
    assert within_reach(5.001, POLICY).rule == "too_far"


def test_has_quota_counts_visits():
    assert has_quota(provider(), 2, 2) is None
    assert has_quota(provider(), 1, 2).rule == "quota_exhausted"


def test_emergency_and_declined():
    assert offers_emergency(provider(), "normal") is None
    assert offers_emergency(provider(), "emergency").rule == "no_emergency_service"
    assert offers_emergency(provider(services=frozenset({"emergency"})), "emergency") is None
    assert not_declined(provider(), {"P1"}).rule == "declined"
    assert not_declined(provider(), set()) is None


def test_eligibility_gives_the_first_reason():
    assert eligibility(provider(), HOME, POLICY) is None
    far = provider(stations=(Station(20.2, 110.3),))
    assert eligibility(far, HOME, POLICY).rule == "too_far"


def test_bulk_eligibility_agrees_with_the_rules():
    for seed in range(5):
        instance = random_world(np.random.default_rng(seed), 60, 6, 0.1)
        ok, _ = Eligibility(instance).matrix(np.arange(len(instance.elders)))
        expected = [[eligibility(p, e, instance.policy) is None for p in instance.providers] for e in instance.elders]
        assert ok.tolist() == expected


def test_bulk_nearest_kilometres_are_the_rules_kilometres():
    instance = random_world(np.random.default_rng(7), 40, 5, 0.1)
    candidates = Eligibility(instance).nearest(5)
    for i, elder in enumerate(instance.elders):
        for j, km in zip(candidates.provider[i], candidates.km[i], strict=True):
            if j >= 0:
                assert abs(km - nearest_station_km(instance.providers[j], elder.lat, elder.lon)) < 1e-9
        assert candidates.eligible_count[i] == sum(
            eligibility(p, elder, instance.policy) is None for p in instance.providers
        )
