"""While the database is away clients get 503 with Retry-After, never 500, and the pool recovers by itself.

The API under test reaches PostgreSQL through a TCP proxy (tests/proxy.py) that stages the outage; the
world is built through the ordinary test app, which talks to the database directly.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import sqlite3

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import EmulatedDBAPIException, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from service.app import create_app
from service.errors import PROBLEM_JSON, database_unavailable
from service.settings import Settings
from tests.service.helpers import build_world


@pytest.fixture
async def proxied_client(settings, pg_proxy):
    """A second app on the same database, all of whose connections pass through the proxy."""
    app = create_app(settings.model_copy(update={"database_url": pg_proxy.route(settings.database_url)}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await app.state.dispatcher.close()
    await app.state.engine.dispose()


def calls(world):
    """A mix of the ORM path (reads) and the one-statement create on the driver's own connection."""
    body = {"elder_id": world.elder_id, "service": "clean", "urgency": "routine"}
    return [
        ("GET", f"/api/v1/elders/{world.elder_id}", None, world.operator),
        ("POST", "/api/v1/requests", body, world.operator),
        ("GET", "/api/v1/provider/assignments", None, world.provider),
    ]


def fire_each(client, world, rounds: int):
    return [
        client.request(method, path, json=body, headers=headers)
        for _ in range(rounds)
        for method, path, body, headers in calls(world)
    ]


async def fire(client, world, rounds: int) -> list[httpx.Response]:
    return await asyncio.gather(*fire_each(client, world, rounds))


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503


@pytest.mark.parametrize("kind", ["restart", "network"])
async def test_an_outage_gives_503_with_retry_after_and_the_pool_recovers(
    client, token, db, proxied_client, pg_proxy, kind
):
    world = await build_world(client, token)
    warm = await fire(proxied_client, world, rounds=8)  # several pooled connections, all to be killed
    assert {r.status_code for r in warm} <= {200, 201}, [r.text for r in warm if r.status_code >= 300]

    in_flight = [asyncio.ensure_future(call) for call in fire_each(proxied_client, world, rounds=8)]
    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    await pg_proxy.outage(kind, seconds=2.0)  # the server goes away under requests in flight …
    for response in await asyncio.gather(*in_flight):
        assert response.status_code in (200, 201, 503), response.text
        if response.status_code == 503:
            assert_unavailable(response)
    for response in await fire(proxied_client, world, rounds=2):  # … and while it is away
        assert_unavailable(response)

    await pg_proxy.accepting()
    for response in await fire(proxied_client, world, rounds=12):  # more than the connections it had
        assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("kind", ["restart", "network"])
async def test_connections_the_server_closed_while_idle_fail_no_request(
    client, token, db, proxied_client, pg_proxy, kind
):
    world = await build_world(client, token)
    for response in await fire(proxied_client, world, rounds=8):
        assert response.status_code in (200, 201), response.text
    await pg_proxy.outage(kind, seconds=0.1)  # while the API was idle: every pooled connection is dead
    await pg_proxy.accepting()
    await asyncio.sleep(0.5)  # the backends have exited
    for rounds in (1, 8):
        for response in await fire(proxied_client, world, rounds=rounds):
            assert response.status_code in (200, 201), response.text


async def test_a_sqlite_database_that_cannot_be_opened_gives_503(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()  # settings refuse a database in a missing folder: it goes after the start
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{folder}/homecare.db", scheduler_enabled=False))
    shutil.rmtree(folder)  # nothing has connected yet
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.get("/api/v1/areas", headers={"Authorization": "Bearer hc_anything"})
        assert_unavailable(response)
    finally:
        await app.state.engine.dispose()


@pytest.mark.parametrize(
    "error, unavailable",
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True),
        (TimeoutError(), True),
        (OSError(errno.ENETUNREACH, "unreachable"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.InterfaceError("cannot perform operation: connection is closed"), True),
        (SAInterfaceError("SELECT 1", {}, Exception("connection is closed"), connection_invalidated=True), True),
        (EmulatedDBAPIException("shutting down", asyncpg.CannotConnectNowError("shutting down")), True),  # checkout
        (asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"), True),
        (OperationalError("connect", {}, sqlite3.OperationalError("unable to open database file")), True),
        (FileNotFoundError(errno.ENOENT, "no font"), False),
        (asyncpg.InterfaceError("the server expects 2 arguments for this query, 3 were passed"), False),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error, unavailable):
    assert database_unavailable(error) is unavailable
    wrapped = RuntimeError("while serving")
    wrapped.__cause__ = error
    assert database_unavailable(wrapped) is unavailable
