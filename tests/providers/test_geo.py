"""The simulator's own GCJ-02 forward transform agrees with the service's, to the last digit."""

from __future__ import annotations

import math
import random

import pytest

from dispatch import geo as service_geo
from providers.geo import moved, outside_china, wgs84_to_gcj02


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return service_geo.haversine_km(lat1, lon1, lat2, lon2) * 1000


PLACES = {
    "Guandu, Kunming": (25.0211, 102.7410),
    "Xiaobanqiao, Kunming": (24.9517, 102.7958),
    "Longhua, Haikou": (20.0310, 110.3280),
    "Tiananmen, Beijing": (39.9087, 116.3975),
    "Mohe, the far north": (52.9720, 122.5380),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_forward_transform_matches_the_service(place):
    lat, lon = PLACES[place]
    assert wgs84_to_gcj02(lat, lon) == pytest.approx(service_geo.wgs84_to_gcj02(lat, lon), abs=1e-12)
    # and the service's exact inverse brings the phone's report back to the door
    back = service_geo.gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert metres_between(lat, lon, *back) < 0.01


def test_the_offset_is_hundreds_of_metres_in_china_and_nothing_outside():
    lat, lon = PLACES["Guandu, Kunming"]
    assert 300 < metres_between(lat, lon, *wgs84_to_gcj02(lat, lon)) < 700
    for point in [(48.8566, 2.3522), (-33.86, 151.21), (1.29, 103.85 + 40)]:
        assert outside_china(*point) and wgs84_to_gcj02(*point) == point


def test_against_a_published_value():
    # The example in the README of wandergis/coordtransform, a widely used implementation:
    # wgs84togcj02(116.404, 39.915) -> [116.41024449916938, 39.91640428150164] (lon, lat order).
    assert wgs84_to_gcj02(39.915, 116.404) == pytest.approx((39.91640428150164, 116.41024449916938), abs=1e-12)


def test_moved_points_land_where_asked():
    rng = random.Random(3)
    for _ in range(50):
        metres, bearing = rng.uniform(5, 1500), rng.uniform(0, 360)
        lat, lon = moved(25.0211, 102.7410, metres, bearing)
        assert metres_between(25.0211, 102.7410, lat, lon) == pytest.approx(metres, rel=2e-3)
    north = moved(25.0, 102.0, 1000, 0)
    assert north[1] == 102.0 and north[0] > 25.0
    assert math.isclose(service_geo.haversine_km(25.0, 102.0, *north) * 1000, 1000, rel_tol=1e-3)
