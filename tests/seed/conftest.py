"""Worlds shared by the seed tests: generating one is cheap but not free, so each is made once."""

from __future__ import annotations

from datetime import date

import pytest

from seed.people import REFERENCE_DATE
from seed.world import generate_world


def age_on(born: date, day: date = REFERENCE_DATE) -> int:
    """Age in whole years on `day`: the oracle of the generators' birthdays."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@pytest.fixture(scope="session")
def guandu():
    return generate_world("guandu", seed=7)


@pytest.fixture(scope="session")
def haikou():
    return generate_world("haikou", elders=20_000, seed=7)


@pytest.fixture(scope="session", params=["guandu", "haikou"])
def world(request, guandu, haikou):
    return {"guandu": guandu, "haikou": haikou}[request.param]
