"""A Haikou-sized synthetic city for benchmarks: `make_scale_instance` returns docs/dispatch.md's
instance format, deterministic for a seed.

Why it looks the way it does: elders cluster around a few dozen population centres (street
offices) of Haikou's four districts; providers sit near those centres with 1-3 stations and are
contracted for the streets around their stations, so eligibility is local and quotas compete;
quotas follow nearby demand with noise, so the nearest provider is often full and the optimiser
has real work to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

SERVICES = ("emergency", "meal", "clean", "medical", "mobility", "recreation", "companionship", "health")
# How often an elder needs each service (meal and cleaning most, emergency cover least).
_NEED_WEIGHTS = np.array([0.05, 0.22, 0.2, 0.1, 0.08, 0.07, 0.14, 0.14])
_DISTRICTS = ("460105", "460106", "460107", "460108")  # Xiuying, Longhua, Qiongshan, Meilan
_CENTRE = (20.02, 110.33)  # Haikou
_KM_PER_DEG_LAT = 111.2


def make_scale_instance(elders: int, providers: int, spare: float, seed: int, month: str = "2026-12") -> dict:
    """An instance with `elders` elders (~1.5 visits each) and total quota = (1 + spare) x visits."""
    rng = np.random.default_rng(seed)
    km_per_deg_lon = _KM_PER_DEG_LAT * np.cos(np.radians(_CENTRE[0]))
    centres = _population_centres(rng, max(12, providers // 3))
    n_centres = len(centres["lat"])

    # Elders around centres, denser centres drawing more people; a few percent live out of town.
    weights = rng.pareto(1.5, n_centres) + 1.0
    home = rng.choice(n_centres, elders, p=weights / weights.sum())
    spread_km = np.where(rng.random(elders) < 0.05, 9.0, 1.6)
    lat = centres["lat"][home] + rng.normal(0, 1, elders) * spread_km / _KM_PER_DEG_LAT
    lon = centres["lon"][home] + rng.normal(0, 1, elders) * spread_km / km_per_deg_lon
    visits = np.where(rng.random(elders) < 0.5, 1, 2)  # ~1.5 visits an elder
    community = rng.integers(1, 16, elders)
    areas = [f"{centres['street'][c]}{k:03d}" for c, k in zip(home.tolist(), community.tolist(), strict=True)]
    needs = _elder_needs(rng, elders)

    # Providers: stations near centres, contracted for the streets within 7 km of any station.
    station_lat, station_lon, owner = [], [], []
    for p in range(providers):
        for _ in range(rng.choice((1, 2, 3), p=(0.4, 0.4, 0.2))):
            c = rng.integers(n_centres)
            station_lat.append(centres["lat"][c] + rng.normal(0, 1.0) / _KM_PER_DEG_LAT)
            station_lon.append(centres["lon"][c] + rng.normal(0, 1.0) / km_per_deg_lon)
            owner.append(p)
    station_lat, station_lon, owner = np.array(station_lat), np.array(station_lon), np.array(owner)
    quotas = _quotas(rng, lat, lon, visits, station_lat, station_lon, owner, providers, spare, km_per_deg_lon)

    provider_dicts = []
    for p in range(providers):
        mine = np.flatnonzero(owner == p)
        near = (
            np.hypot(
                (centres["lat"][:, None] - station_lat[mine]) * _KM_PER_DEG_LAT,
                (centres["lon"][:, None] - station_lon[mine]) * km_per_deg_lon,
            ).min(axis=1)
            <= 7.0
        )
        offered = [s for s in SERVICES if rng.random() < 0.85] or ["meal"]
        provider_dicts.append(
            {
                "id": f"P{p + 1:03d}",
                "quota": int(quotas[p]),
                "services": offered,
                "areas": sorted({centres["street"][c] for c in np.flatnonzero(near)}),
                "stations": [
                    {"lat": round(float(station_lat[s]), 6), "lon": round(float(station_lon[s]), 6)} for s in mine
                ],
            }
        )

    previous = _previous_providers(rng, lat, lon, station_lat, station_lon, owner, km_per_deg_lon)
    elder_dicts = [
        {
            "id": f"E{i + 1:07d}",
            "lat": round(a, 6),
            "lon": round(o, 6),
            "area": area,
            "visits": v,
            "services": need,
            "previous_provider": None if prev < 0 else f"P{prev + 1:03d}",
        }
        for i, (a, o, area, v, need, prev) in enumerate(
            zip(lat.tolist(), lon.tolist(), areas, visits.tolist(), needs, previous.tolist(), strict=True)
        )
    ]
    return {
        "month": month,
        "policy": {"max_km": 8.0, "continuity_bonus_km": 1.5},
        "elders": elder_dicts,
        "providers": provider_dicts,
    }


def write_scale_instance(
    path: str | Path, elders: int, providers: int, spare: float, seed: int, month: str = "2026-12"
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    instance = make_scale_instance(elders, providers, spare, seed, month)
    path.write_text(json.dumps(instance, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path


def _population_centres(rng: np.random.Generator, count: int) -> dict:
    """Street offices scattered over ~30 x 20 km, each with a 9-digit street code in a district."""
    lat = _CENTRE[0] + rng.uniform(-0.09, 0.09, count)
    lon = _CENTRE[1] + rng.uniform(-0.16, 0.16, count)
    district = np.clip(((lon - lon.min()) / (np.ptp(lon) + 1e-9) * 4).astype(int), 0, 3)
    street = [f"{_DISTRICTS[d]}{100 + i:03d}" for i, d in enumerate(district.tolist())]
    return {"lat": lat, "lon": lon, "street": street}


def _elder_needs(rng: np.random.Generator, elders: int) -> list[list[str]]:
    """Most elders need one or two services; a few need three."""
    counts = rng.choice((1, 2, 3), elders, p=(0.6, 0.33, 0.07))
    first = rng.choice(len(SERVICES), (elders, 3), p=_NEED_WEIGHTS)
    needs = []
    for row, k in zip(first.tolist(), counts.tolist(), strict=True):
        needs.append(sorted({SERVICES[s] for s in row[:k]}))
    return needs


def _quotas(rng, lat, lon, visits, station_lat, station_lon, owner, providers, spare, km_per_deg_lon):
    """Each provider's share of the city's visits follows the demand nearest its stations, with noise."""
    tree = cKDTree(np.c_[station_lat * _KM_PER_DEG_LAT, station_lon * km_per_deg_lon])
    _, nearest = tree.query(np.c_[lat * _KM_PER_DEG_LAT, lon * km_per_deg_lon])
    demand = np.bincount(owner[nearest], weights=visits, minlength=providers) + visits.mean()
    share = demand * rng.uniform(0.6, 1.4, providers)
    total = int(np.floor((1.0 + spare) * visits.sum()))
    raw = share / share.sum() * total
    quotas = np.floor(raw).astype(np.int64)
    quotas[np.argsort(quotas - raw)[: total - quotas.sum()]] += 1  # largest remainders get the rest
    return quotas


def _previous_providers(rng, lat, lon, station_lat, station_lon, owner, km_per_deg_lon) -> np.ndarray:
    """Most elders were served last month by one of the providers with a station nearby."""
    tree = cKDTree(np.c_[station_lat * _KM_PER_DEG_LAT, station_lon * km_per_deg_lon])
    k = min(3, len(station_lat))
    _, nearest = tree.query(np.c_[lat * _KM_PER_DEG_LAT, lon * km_per_deg_lon], k=k)
    nearest = nearest.reshape(len(lat), k)
    pick = nearest[np.arange(len(lat)), rng.integers(0, k, len(lat))]
    return np.where(rng.random(len(lat)) < 0.8, owner[pick], -1)
