"""The eligible elders of a scenario: where they live (clustered by community population, scattered
a few hundred metres around the community centroid, never outside the district outline), who they
are, and what the monthly entitlement gives them.

Speed matters (Haikou has up to 300,000 elders): every number is drawn for a block of BLOCK elders at
once with a numpy Generator; the per-elder loop only formats text. Elder i depends on the seed and i
alone, never on how many are drawn: the 500 elders of `--elders 500` are the first 500 of the default
3,000, so loading a district again with another count adds only the elders not there yet.
"""

from __future__ import annotations

import random
from bisect import bisect

import numpy as np

from seed.contracts import HAS_PREVIOUS_PROVIDER, Contracts
from seed.geography import KM_PER_DEG_LAT, Community, County, Places, Street, edge_distance_km
from seed.model import Elder
from seed.people import MIN_AGE, draw_people
from seed.programme import draw_programme
from service.catalogue import SERVICES

MIN_MINUTES = 60  # 每次服务时长最低60分钟

# How often a need appears (cleaning and meals most, emergency least); most elders need 1-3.
_NEED_SHARE = {
    "emergency": 0.05,
    "meal": 0.20,
    "clean": 0.22,
    "medical": 0.10,
    "mobility": 0.07,
    "recreation": 0.06,
    "companionship": 0.15,
    "health": 0.15,
}
_NEED_WEIGHTS = np.array([_NEED_SHARE[s] for s in SERVICES])
_NEED_COUNT_P = np.array([0.35, 0.40, 0.20, 0.05])  # 1, 2, 3 or 4 services
_EMERGENCY_BIT = 1 << list(SERVICES).index("emergency")
# Share of elders with a one-touch phone (一键通); Guandu's platform pushes devices harder.
_DEVICE_SHARE = {"guandu": 0.18, "haikou": 0.10}
_WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.3])  # families help at weekends
_ESTATE_SUFFIXES = ("小区", "新村", "花园", "家园", "苑")
_KEEP_INSIDE = 0.85  # a jitter radius never reaches more than this share of the way to the outline

# Every subset of the catalogue (and of the week) by bit mask, as the tuple an elder carries.
_SERVICE_SETS = [tuple(s for i, s in enumerate(SERVICES) if mask >> i & 1) for mask in range(1 << len(SERVICES))]
_WEEKDAY_SETS = [tuple(d for d in range(7) if mask >> d & 1) for mask in range(1 << 7)]


class _Home:
    """A community as a place to live: its whole address and how far elders may scatter."""

    __slots__ = ("community", "county", "prefix", "radius_km", "stem")

    def __init__(self, places: Places, county: County, street: Street, community: Community):
        self.county, self.community = county, community
        self.prefix = f"{county.city_name}{county.name}{street.name}{community.name}"
        margins = [edge_distance_km(community.lat, community.lon, county.outline)]
        margins += [edge_distance_km(community.lat, community.lon, water) for water in places.water]
        self.radius_km = min(community.spread_km, _KEEP_INSIDE * min(margins))
        self.stem = community.name.removesuffix("社区")


BLOCK = 1_000  # elders drawn together, each block from a generator of its own (the last one is cut short)


def draw_elders(rng: random.Random, places: Places, count: int, contracts: Contracts) -> tuple[Elder, ...]:
    root = rng.getrandbits(128)
    homes = [_Home(places, county, street, community) for county, street, community in places.communities()]
    taken: tuple[set[str], set[str]] = (set(), set())  # ID numbers and phones of the blocks before
    cache: dict[int, tuple[tuple[int, ...], list[float]]] = {}
    elders: list[Elder] = []
    for block, start in enumerate(range(0, count, BLOCK)):
        g = np.random.Generator(np.random.PCG64([root, block]))
        block_rng = random.Random(f"{root}:{block}")  # breaks the block's rare ID and phone collisions
        drawn = _draw_block(block_rng, g, places, homes, contracts, start, taken, cache)
        elders.extend(drawn[: count - start])
    return tuple(elders)


def _draw_block(
    rng: random.Random,
    g: np.random.Generator,
    places: Places,
    homes: list[_Home],
    contracts: Contracts,
    start: int,
    taken: tuple[set[str], set[str]],
    previous_candidates: dict[int, tuple[tuple[int, ...], list[float]]],
) -> list[Elder]:
    """BLOCK elders, numbered from `start`: always a whole block, so that cutting the last one short
    leaves its first elders as they would be in a longer run."""
    count = BLOCK
    weights = np.array([h.community.weight for h in homes])
    where = g.choice(len(homes), size=count, p=weights / weights.sum())
    county_index = {county.code: i for i, county in enumerate(places.counties)}
    people = draw_people(
        rng,
        g,
        places.scenario,
        [tuple(code for code, _ in c.id_region_codes) for c in places.counties],
        [np.cumsum([share for _, share in c.id_region_codes]) for c in places.counties],
        np.array([county_index[h.county.code] for h in homes])[where],
        taken,
    )
    lats, lons = _scatter(g, homes, where)
    alone, two_visits, device, needs, weekdays = _draw_entitlements(g, np.array(people.ages), places.scenario)
    # Address numbers: building, unit, floor, door in an estate; villagers' group and house in a village.
    numbers = 1 + (g.random((count, 6)) * np.array([30, 6, 9, 4, 12, 120])).astype(np.int64)
    suffixes = g.integers(0, len(_ESTATE_SUFFIXES), count)
    previous = np.where(g.random(count) < HAS_PREVIOUS_PROVIDER, g.random(count), -1.0)  # -1: new this month
    categories, levels, assessed = draw_programme(g, alone, two_visits)

    elders = []
    for i, (
        home_i,
        name,
        female,
        id_number,
        born,
        phone,
        lat,
        lon,
        is_alone,
        two,
        has_device,
        need_mask,
        day_mask,
        number,
        suffix,
        last,
    ) in enumerate(
        zip(
            where.tolist(),
            people.names,
            people.females,
            people.id_numbers,
            people.birth_dates,
            people.phones,
            lats.tolist(),
            lons.tolist(),
            alone.tolist(),
            two_visits.tolist(),
            device.tolist(),
            needs.tolist(),
            weekdays.tolist(),
            numbers.tolist(),
            suffixes.tolist(),
            previous.tolist(),
            strict=True,
        )
    ):
        home = homes[home_i]
        services = _SERVICE_SETS[need_mask]
        previous_provider = None
        if last >= 0:
            key = home_i << len(SERVICES) | need_mask
            if key not in previous_candidates:
                previous_candidates[key] = contracts.previous_candidates(home.community, services)
            candidates, cum = previous_candidates[key]
            previous_provider = candidates[bisect(cum, last * cum[-1])] if candidates else None
        elders.append(
            Elder(
                name=name,
                gender="female" if female else "male",
                id_number=id_number,
                birth_date=born,
                phone=phone,
                address=_address(home, number, suffix),
                lat=lat,
                lon=lon,
                area_code=home.community.code,
                visits_per_month=2 if two else 1,
                min_minutes=MIN_MINUTES,
                services=services,
                living_alone=is_alone,
                has_one_touch_device=has_device,
                device_id=f"YJT{home.county.code}{start + i + 1:07d}" if has_device else None,
                preferred_weekdays=_WEEKDAY_SETS[day_mask],
                previous_provider=previous_provider,
                categories=categories[i],
                ability_level=levels[i],
                assessed_on=assessed[i],
            )
        )
    return elders


def _draw_entitlements(g: np.random.Generator, ages: np.ndarray, scenario: str) -> tuple[np.ndarray, ...]:
    """Living alone, two visits a month, one-touch phone, needed services and preferred weekdays."""
    count = len(ages)
    alone = g.random(count) < np.select([ages < 70, ages < 80], [0.16, 0.21], 0.28)
    # Older and living-alone elders are assessed for two visits a month more often.
    two_visits = g.random(count) < np.minimum(0.9, 0.2 + 0.012 * (ages - MIN_AGE) + 0.25 * alone)
    device = g.random(count) < _DEVICE_SHARE[scenario] * np.where(alone, 2.0, 1.0)
    needs = _top_k_masks(g, _NEED_WEIGHTS, 1 + g.choice(4, size=count, p=_NEED_COUNT_P))
    needs |= np.where(device & (g.random(count) < 0.6), _EMERGENCY_BIT, 0)  # one-touch phone: emergency cover
    wanted_days = np.where(g.random(count) < 0.3, 1 + g.choice(3, size=count, p=[0.5, 0.35, 0.15]), 0)
    return alone, two_visits, device, needs, _top_k_masks(g, _WEEKDAY_WEIGHTS, wanted_days)


def _scatter(g: np.random.Generator, homes: list[_Home], where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform over a disc around each elder's community centroid (local flat projection)."""
    lat0 = np.array([h.community.lat for h in homes])[where]
    lon0 = np.array([h.community.lon for h in homes])[where]
    distance = np.array([h.radius_km for h in homes])[where] * np.sqrt(g.random(len(where)))
    bearing = g.random(len(where)) * 2 * np.pi
    lat = lat0 + distance * np.cos(bearing) / KM_PER_DEG_LAT
    lon = lon0 + distance * np.sin(bearing) / (KM_PER_DEG_LAT * np.cos(np.radians(lat0)))
    return np.round(lat, 6), np.round(lon, 6)


def _top_k_masks(g: np.random.Generator, weights: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Bit masks of k items per row drawn without replacement in proportion to `weights`.

    Efraimidis-Spirakis: the k largest keys u^(1/w) are a weighted sample without replacement,
    the same distribution as drawing one item at a time and putting nothing back.
    """
    keys = np.log(g.random((len(k), len(weights)))) / weights
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)  # 0 = largest key
    return ((rank < k[:, None]) * (1 << np.arange(len(weights)))).sum(axis=1)


def _address(home: _Home, number: list[int], suffix: int) -> str:
    building, unit, floor, door, group, house = number
    if home.community.is_village:  # village homes are numbered within a villagers' group (村民小组)
        return f"{home.prefix}{group}组{house}号"
    return f"{home.prefix}{home.stem}{_ESTATE_SUFFIXES[suffix]}{building}栋{unit}单元{floor}{door:02d}室"
