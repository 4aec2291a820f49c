"""Worlds shared by the seed tests: generating one is cheap but not free, so each is made once."""

from __future__ import annotations

import pytest

from seed.world import generate_world


@pytest.fixture(scope="session")
def guandu():
    return generate_world("guandu", seed=7)


@pytest.fixture(scope="session")
def haikou():
    return generate_world("haikou", elders=20_000, seed=7)


@pytest.fixture(scope="session", params=["guandu", "haikou"])
def world(request, guandu, haikou):
    return {"guandu": guandu, "haikou": haikou}[request.param]
