"""Who the elders are: age and gender drawn like an elderly population, Chinese names of their
generation, resident ID numbers (GB 11643, unique) and mobile numbers (unique).

Numbers are drawn for everyone at once with a numpy Generator (300,000 elders drawn one Python
random call at a time were too slow); the Generator is seeded from the scenario's `random.Random`,
and that same `Random` breaks the rare ID/phone collisions, so a seed number decides every value.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from seed import names
from service.identity import id_check_char

# Ages are "as of" this day: every elder is 60-100 on it.
REFERENCE_DATE = date(2026, 7, 1)
MIN_AGE, MAX_AGE = 60, 100
AGES = np.arange(MIN_AGE, MAX_AGE + 1)

# Share of the 60+ population by 5-year band (60-64 … 95-100), shaped like China's 2020 census:
# about 17% are 80 or over, close to Haikou's 40,700 of 277,100.
_BAND_SHARES = np.array([26.0, 23.0, 17.0, 12.0, 9.0, 5.0, 2.0, 0.6])
_AGE_P = _BAND_SHARES[np.minimum((AGES - MIN_AGE) // 5, 7)]
_AGE_P = _AGE_P / _AGE_P.sum()
# Women outlive men, so the older the band the larger their share.
_FEMALE_SHARE = np.select([AGES < 70, AGES < 80, AGES < 90], [0.50, 0.53, 0.58], 0.65)

# Mainland mobile prefixes of the three carriers; elders mostly hold older 13x/15x numbers.
_OLD_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "130",
    "131",
    "132",
    "133",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
)
_NEW_PREFIXES = ("180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "177", "199", "166")
_PREFIXES = _OLD_PREFIXES + _NEW_PREFIXES
# The four digits after the prefix: disjoint blocks per scenario, so that Guandu and Haikou loaded
# into one database never share a phone number.
_PHONE_BLOCKS = {"guandu": (8700, 200), "haikou": (7500, 500)}  # first block, how many


def birthday_range(age: int) -> tuple[date, date]:
    """The earliest and latest birthday of someone exactly `age` on REFERENCE_DATE."""
    latest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age)
    return REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age - 1) + timedelta(days=1), latest


_FIRST_DAY = np.array([birthday_range(int(a))[0].toordinal() for a in AGES])
_DAYS = np.array([birthday_range(int(a))[1].toordinal() for a in AGES]) - _FIRST_DAY + 1
_BIRTHDAYS: dict[int, tuple[date, str]] = {}  # every possible birthday by ordinal, with its ID digits
for _n in range(int(_FIRST_DAY.min()), int((_FIRST_DAY + _DAYS).max())):
    _BIRTHDAYS[_n] = (date.fromordinal(_n), f"{date.fromordinal(_n):%Y%m%d}")


@dataclass(frozen=True, slots=True)
class People:
    """Parallel lists, one entry per elder."""

    ages: list[int]
    females: list[bool]
    birth_dates: list[date]
    names: list[str]
    id_numbers: list[str]
    phones: list[str]


def draw_people(
    rng: random.Random,
    generator: np.random.Generator,
    scenario: str,
    region_codes: list[tuple[str, ...]],
    region_cum: list[np.ndarray],
    county_of: np.ndarray,
    taken: tuple[set[str], set[str]] | None = None,
) -> People:
    """People for elders living in the counties `county_of` (indices into `region_codes`/`region_cum`,
    each county's ID-number prefixes and their cumulative shares). `taken`: the first 17 ID digits and the
    phones of people drawn before, which these must not repeat (it grows with these people)."""
    count = len(county_of)
    g = generator
    ages = g.choice(AGES, size=count, p=_AGE_P)
    females = g.random(count) < _FEMALE_SHARE[ages - MIN_AGE]
    ordinals = _FIRST_DAY[ages - MIN_AGE] + (g.random(count) * _DAYS[ages - MIN_AGE]).astype(np.int64)
    region_u, sequences = g.random(count), g.integers(0, 500, count) * 2 + ~females  # odd for men
    regions = np.empty(count, dtype=np.int64)
    for county, cum in enumerate(region_cum):
        mine = county_of == county
        regions[mine] = np.searchsorted(cum, region_u[mine] * cum[-1], side="right")
    surnames = _surnames(scenario)
    surname_idx = np.searchsorted(surnames[1], g.random(count) * surnames[1][-1], side="right")
    single, given_u = g.random(count) < 0.15, g.random(count)  # one-character names: every generation
    prefixes = np.where(
        g.random(count) < 0.75,
        g.integers(0, len(_OLD_PREFIXES), count),
        len(_OLD_PREFIXES) + g.integers(0, len(_NEW_PREFIXES), count),
    )
    first_block, blocks = _PHONE_BLOCKS[scenario]
    phone_blocks, phone_tails = first_block + g.integers(0, blocks, count), g.integers(0, 10_000, count)

    given = _given_names(scenario)
    seen_ids, seen_phones = taken if taken is not None else (set(), set())
    birth_dates, full_names, id_numbers, phones = [], [], [], []
    for county, region, ordinal, sequence, female, surname, one_char, u, prefix, block, tail in zip(
        county_of.tolist(),
        regions.tolist(),
        ordinals.tolist(),
        sequences.tolist(),
        females.tolist(),
        surname_idx.tolist(),
        single.tolist(),
        given_u.tolist(),
        prefixes.tolist(),
        phone_blocks.tolist(),
        phone_tails.tolist(),
        strict=True,
    ):
        born, digits = _BIRTHDAYS[ordinal]
        first17 = f"{region_codes[county][region]}{digits}{sequence:03d}"
        while first17 in seen_ids:  # same place, birthday and sequence: draw another sequence
            first17 = f"{first17[:14]}{rng.randrange(500) * 2 + (0 if female else 1):03d}"
        seen_ids.add(first17)
        phone = f"{_PREFIXES[prefix]}{block:04d}{tail:04d}"
        while phone in seen_phones:
            phone = f"{phone[:7]}{rng.randrange(10_000):04d}"
        seen_phones.add(phone)
        choices = given[(female, one_char, born.year < 1950)]
        birth_dates.append(born)
        full_names.append(surnames[0][surname] + choices[int(u * len(choices))])
        id_numbers.append(first17 + id_check_char(first17))
        phones.append(phone)
    return People(ages.tolist(), females.tolist(), birth_dates, full_names, id_numbers, phones)


def _surnames(scenario: str) -> tuple[tuple[str, ...], np.ndarray]:
    weights = dict(names.NATIONAL_SURNAMES)
    for surname, extra in names.REGIONAL_SURNAMES[scenario].items():
        weights[surname] = weights.get(surname, 0.0) + extra
    return tuple(weights), np.cumsum(list(weights.values()))


def _given_names(scenario: str) -> dict[tuple[bool, bool, bool], tuple[str, ...]]:
    """Given names by (female, one character, born before 1950)."""
    regional = names.REGIONAL_GIVEN[scenario]
    return {
        (False, False, True): names.MALE_BEFORE_1950 + regional["male"],
        (False, False, False): names.MALE_FROM_1950 + regional["male"],
        (True, False, True): names.FEMALE_BEFORE_1950 + regional["female"],
        (True, False, False): names.FEMALE_FROM_1950 + regional["female"],
        **{(False, True, before): names.MALE_SINGLE for before in (True, False)},
        **{(True, True, before): names.FEMALE_SINGLE for before in (True, False)},
    }
