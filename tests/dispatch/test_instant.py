"""Instant assignment: nearest eligible provider with quota left, never worse than brute force."""

import numpy as np

from dispatch.instant import InstantRequest, ProviderIndex
from dispatch.model import Elder
from dispatch.rules import eligibility, nearest_station_km
from tests.dispatch.worlds import random_world


def brute_force(instance, request, left):
    best = None
    elder = Elder("r", request.lat, request.lon, request.area, request.visits, request.services)
    for p in instance.providers:
        if (
            eligibility(p, elder, instance.policy) is None
            and left.get(p.id, 0) >= request.visits
            and p.id not in request.declined
            and (request.urgency != "emergency" or "emergency" in p.services)
        ):
            km = nearest_station_km(p, request.lat, request.lon)
            best = km if best is None else min(best, km)
    return best


def test_never_worse_than_nearest_eligible_with_capacity():
    rng = np.random.default_rng(3)
    for seed in range(30):
        instance = random_world(np.random.default_rng(seed), 15, 8, 0.1)
        index = ProviderIndex(instance.providers, instance.policy)
        left = {p.id: int(rng.integers(0, 3)) for p in instance.providers}
        for elder in instance.elders:
            declined = frozenset({instance.providers[int(rng.integers(8))].id}) if rng.random() < 0.3 else frozenset()
            request = InstantRequest(
                elder.lat,
                elder.lon,
                elder.area,
                elder.services,
                urgency=str(rng.choice(["normal", "emergency"])),
                declined=declined,
            )
            choice = index.assign(request, left)
            expected = brute_force(instance, request, left)
            if expected is None:
                assert choice.provider is None and len(choice.rejected) == len(instance.providers)
            else:
                assert choice.km <= expected + 1e-9
                assert choice.provider not in declined and left[choice.provider] >= 1


def test_rejections_say_why():
    instance = random_world(np.random.default_rng(1), 5, 6, 0.1)
    index = ProviderIndex(instance.providers, instance.policy)
    elder = instance.elders[0]
    everyone = frozenset(p.id for p in instance.providers)
    choice = index.assign(InstantRequest(elder.lat, elder.lon, elder.area, elder.services, declined=everyone), {})
    assert choice.provider is None
    assert {r.reason.rule for r in choice.rejected} == {"declined"}
    assert [r.km for r in choice.rejected] == sorted(r.km for r in choice.rejected)


def test_one_request_gets_the_bulk_kilometres_to_the_last_bit():
    from dispatch.geo import unit_vectors
    from dispatch.reach import StationIndex

    for seed in range(20):
        instance = random_world(np.random.default_rng(seed), 20, 12, 0.1)
        stations = StationIndex(instance.providers)
        everyone = np.arange(len(instance.providers))
        for elder in instance.elders:
            xyz = unit_vectors(elder.lat, elder.lon)
            assert np.array_equal(stations.nearest_km_of_one(xyz), stations.nearest_km(xyz[None, :], everyone))
