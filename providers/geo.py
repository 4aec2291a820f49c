"""Where a caregiver's phone says it is.

Phones in China report GCJ-02, the national offset system of Amap and most map SDKs, which sits
300-600 m from WGS-84. The service stores homes in WGS-84, so to report a fix at an elder's door the
simulator moves the home a little (GPS noise) and then into GCJ-02 with the published forward
transform. It is written out here, not imported, because this package speaks to the service only
over HTTP and shares no code with it.
"""

from __future__ import annotations

import math

# The Krasovsky 1940 ellipsoid, on which the GCJ-02 transform is defined.
_A = 6378245.0
_EE = 0.00669342162296594323
_EARTH_RADIUS_M = 6371008.8


def outside_china(lat: float, lon: float) -> bool:
    """GCJ-02 only shifts points inside this box; elsewhere it is WGS-84 itself."""
    return not (0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347)


def _shift_lat(x: float, y: float) -> float:
    shift = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    shift += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    shift += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    shift += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return shift


def _shift_lon(x: float, y: float) -> float:
    shift = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    shift += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    shift += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    shift += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return shift


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The forward WGS-84 -> GCJ-02 transform (degrees in, degrees out)."""
    if outside_china(lat, lon):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    rad = math.radians(lat)
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = _shift_lat(x, y) * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = _shift_lon(x, y) * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def moved(lat: float, lon: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    """The point `metres` away on `bearing_deg` (0 = north); flat-earth, exact enough below a few km."""
    bearing = math.radians(bearing_deg)
    dlat = metres * math.cos(bearing) / _EARTH_RADIUS_M
    dlon = metres * math.sin(bearing) / (_EARTH_RADIUS_M * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lon + math.degrees(dlon)
