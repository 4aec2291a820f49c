"""`generate_world`: a whole scenario as plain data — the division tree, the contracted providers
with their stations and quotas, and the eligible elders — deterministic for a seed number.

    world = generate_world("guandu")                    # 3,000 elders of Guandu district, Kunming
    world = generate_world("haikou", elders=300_000)    # Haikou's four districts at full scale

No database, no clock, no network: the loader (`seed/load.py`) maps these records onto the service's
models; the same seed always gives equal worlds, so loading can be idempotent.
"""

from __future__ import annotations

import random

from seed.contracts import Contracts
from seed.elders import draw_elders
from seed.geography import load_places
from seed.model import Area, World

DEFAULT_ELDERS = {"guandu": 3_000, "haikou": 20_000}
MAX_ELDERS = 300_000  # Haikou had 277,100 residents aged 60+ at the end of 2018
DEFAULT_SEED = 2026


def generate_world(scenario: str, elders: int | None = None, seed: int = DEFAULT_SEED) -> World:
    places = load_places(scenario)
    count = DEFAULT_ELDERS[scenario] if elders is None else elders
    if not 0 <= count <= MAX_ELDERS:
        raise ValueError(f"elders must be between 0 and {MAX_ELDERS:,}, not {count:,}")
    # One generator, drawn from in a fixed order: the seed alone decides every value.
    rng = random.Random(f"{scenario}:{seed}")
    contracts = Contracts(places)
    elder_records = draw_elders(rng, places, count, contracts)
    communities = {community.code: community for _, _, community in places.communities()}
    return World(
        scenario=scenario,
        seed=seed,
        areas=areas_of(scenario),
        providers=contracts.providers(elder_records, communities),
        elders=elder_records,
    )


def areas_of(scenario: str) -> tuple[Area, ...]:
    """The division tree of a scenario, parents before children (safe insertion order)."""
    places = load_places(scenario)
    city_code = places.city[0] if places.city else None
    areas = [Area(places.city[0], places.city[1], "city", None)] if places.city else []
    for county in places.counties:
        areas.append(Area(county.code, county.name, "county", city_code))
    for county, street in places.streets():
        areas.append(Area(street.code, street.name, "street", county.code))
    for _, street, community in places.communities():
        areas.append(Area(community.code, community.name, "community", street.code))
    return tuple(areas)
