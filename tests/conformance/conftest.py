"""The conformance run: its backend, its own app over a small seeded world, and how its items fail."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from schemathesis.python import asgi

from service.app import create_app
from tests.conformance import hooks
from tests.conformance.failures import Recorder
from tests.conformance.world import ConformanceWorld, seed
from tests.conftest import BACKENDS, clean_database, token_factory

HERE = Path(__file__).parent
# The generated run on one backend keeps within its time budget: PostgreSQL, what production runs,
# when it is tested. (The workflow's answers are checked on every backend.)
RUN_ON = os.environ.get(
    "HOMECARE_CONFORMANCE_BACKENDS", "postgresql" if "postgresql" in BACKENDS else BACKENDS[0]
).split(",")
RECORDER = Recorder()


def pytest_collection_modifyitems(config, items):
    dropped = [
        item
        for item in items
        if item.path == HERE / "test_openapi.py"
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") not in RUN_ON
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    return RECORDER


@pytest.fixture(scope="module")
async def world(app) -> ConformanceWorld:
    await clean_database(app.state.sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        seeded = await seed(client, app.state.sessions, token_factory(app.state.sessions))
    hooks.EXISTING.clear()
    hooks.EXISTING.update(seeded.ids)
    return seeded


@pytest.fixture(scope="module")
def target(settings, world) -> asgi.ASGIClient:
    """An app of its own for Schemathesis: its requests run on Schemathesis' event-loop thread, and a
    database pool belongs to the loop it was opened on. One client for all of them, which reads no
    proxy settings from the environment."""
    client = asgi.get_client(create_app(settings))
    client.trust_env = False
    with client:
        yield client
    asgi.shutdown_lifespans()  # closes the pool before the session drops the test database


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After all of an item's cases ran: fail it with every distinct failure they found."""
    result = yield
    found = RECORDER.of(item.nodeid)
    if found:
        report = f"{len(found)} distinct failure(s):\n" + "\n".join(map(str, found))
        raise AssertionError(report)
    return result


def pytest_sessionfinish(session):
    path = os.environ.get("HOMECARE_CONFORMANCE_REPORT")
    if path and RECORDER.cases:
        RECORDER.dump(path)


def pytest_terminal_summary(terminalreporter):
    if RECORDER.cases:
        sent = ", ".join(f"{role} {n}" for role, n in RECORDER.requests.items())
        terminalreporter.write_line(
            f"conformance: {RECORDER.cases.total()} cases over {len(RECORDER.cases)} "
            f"operations on {', '.join(RUN_ON)}; requests sent as {sent}"
        )
