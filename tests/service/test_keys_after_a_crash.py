"""Issue 10, item 5: a request that dies half-way leaves its Idempotency-Key free; the retry runs at once, once.

Every keyed endpoint commits the key, the work and the key's answer in one transaction, so a request in
flight has nothing of itself committed, and "still running" is told by the database (PostgreSQL: the key's
transaction-scoped advisory lock; SQLite: the write lock), which forgets when the transaction dies.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlmodel import func, select

from service.db import asyncpg_dsn
from service.idempotency.models import IdempotencyRecord
from service.idempotency.service import KEY_LOCK_SPACE
from service.lifecycle.models import ServiceRequest
from tests.factories import elder_body, provider_body
from tests.reports.month import build_october
from tests.service.helpers import build_world

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).isoformat()


def on_postgresql(settings) -> bool:
    return settings.database_url.startswith("postgresql")


async def committed(app, model, *where) -> int:
    """Rows as committed, read on the reports' read-only engine: on SQLite it reads beside a writer that
    holds the write lock, where the main engine's sessions would wait for it."""
    async with app.state.reports.sessions() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


@dataclass
class Keyed:
    path: str
    body: dict
    role: str
    work: str  # "module:function" that does the endpoint's work: made to hang after it


async def keyed_endpoints(client, token, db, settings) -> list[Keyed]:
    october = await build_october(db)
    world = await build_world(client, token)
    endpoints = [
        Keyed(
            "/api/v1/alerts",
            {"elder_id": world.elder_id, "kind": "sos", "at": NOW},
            "operator",
            "service.requests.service:raise_alert",
        ),
        Keyed("/api/v1/elders", elder_body(), "admin", "service.elders.service:create_elder"),
        Keyed(
            "/api/v1/providers", provider_body(name="新开服务社"), "admin", "service.providers.service:create_provider"
        ),
        Keyed(
            f"/api/v1/visits/{october.visits['v6']}/follow-up",
            {"satisfaction": 4},
            "operator",
            "service.followups.service:record_follow_up",
        ),
        Keyed(
            "/api/v1/prices",
            {"service": "clean", "unit_price_yuan": "45.00", "effective_from": "2027-01-01"},
            "admin",
            "service.reports.prices:add_price",
        ),
        Keyed(
            "/api/v1/reports/closures",
            {"month": "2026-10", "area": "530111"},
            "admin",
            "service.reports.closing:close_month",
        ),
    ]
    if not on_postgresql(settings):  # on PostgreSQL operators' creates are one statement: never half-way
        endpoints.append(
            Keyed(
                "/api/v1/requests",
                {"elder_id": world.elder_id, "service": "clean"},
                "operator",
                "service.requests.service:create_request",
            )
        )
    return endpoints


def hang_after(monkeypatch, target: str) -> tuple[asyncio.Event, Callable[[], None]]:
    """Make `target` do its work, then wait forever; the event is set once it waits."""
    import importlib

    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    real = getattr(module, name)
    waiting = asyncio.Event()

    async def work_then_hang(*args, **kwargs):
        await real(*args, **kwargs)
        waiting.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(module, name, work_then_hang)
    return waiting, lambda: monkeypatch.setattr(module, name, real)


async def test_every_keyed_endpoint_commits_nothing_until_done_and_its_retry_runs_at_once(
    app, client, token, db, settings, monkeypatch
):
    for endpoint in await keyed_endpoints(client, token, db, settings):
        headers = {
            **await token(endpoint.role, area_code="530111" if endpoint.role == "regulator" else None),
            "Idempotency-Key": f"crash-{endpoint.path}",
        }
        waiting, restore = hang_after(monkeypatch, endpoint.work)
        first = asyncio.create_task(client.post(endpoint.path, json=endpoint.body, headers=headers))
        await asyncio.wait_for(waiting.wait(), 30)
        # Half-way: the work is done but uncommitted; nothing of the request is visible, not even its key.
        assert await committed(app, IdempotencyRecord) == 0, endpoint.path
        if on_postgresql(settings):  # a twin while the first genuinely runs: 409 at once
            twin = await client.post(endpoint.path, json=endpoint.body, headers=headers)
            assert twin.status_code == 409 and "still being processed" in twin.json()["detail"], endpoint.path
        first.cancel()  # the request dies
        with pytest.raises(asyncio.CancelledError):
            await first
        restore()
        retry = await client.post(endpoint.path, json=endpoint.body, headers=headers)
        assert retry.status_code == 201, (endpoint.path, retry.text)
        replay = await client.post(endpoint.path, json=endpoint.body, headers=headers)
        assert replay.status_code == 201 and replay.content == retry.content, endpoint.path
        assert await committed(app, IdempotencyRecord) == 1, endpoint.path
        async with db() as session:  # the next endpoint starts with no key stored
            for record in (await session.exec(select(IdempotencyRecord))).all():
                await session.delete(record)
            await session.commit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    """Poll a condition (not a speed assertion: the bound only keeps a broken run from hanging)."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"gave up waiting: {what}")


async def test_an_alert_whose_api_was_killed_mid_request_is_raised_by_its_retry_at_once(
    app, client, token, db, settings
):
    """The issue's reproduction: kill -9 of the API during a keyed POST /alerts. Before, every retry got 409
    "still being processed" for two minutes while no alert existed."""
    port = free_port()
    api = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.service.hanging_api",
        str(port),
        cwd=ROOT,
        env={**os.environ, "HOMECARE_DATABASE_URL": settings.database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        world = await build_world(client, token)  # while the API process starts
        body = {"elder_id": world.elder_id, "kind": "fall", "at": NOW}
        headers = {**world.operator, "Idempotency-Key": "sos-1"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as remote:

            async def answers() -> bool:
                try:
                    return (await remote.get("/livez")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(answers, "the API process to serve")
            in_flight = asyncio.create_task(remote.post("/api/v1/alerts", json=body, headers=headers))
            assert await asyncio.wait_for(api.stdout.readline(), 60) == b"hung\n"
            assert await committed(app, ServiceRequest) == 0 and await committed(app, IdempotencyRecord) == 0
            if on_postgresql(settings):
                twin = await client.post("/api/v1/alerts", json=body, headers=headers)
                assert twin.status_code == 409
            api.kill()  # kill -9
            await api.wait()
            with pytest.raises(httpx.TransportError):
                await in_flight
    finally:
        if api.returncode is None:
            api.kill()
            await api.wait()
    if on_postgresql(settings):  # the server ends the dead client's transaction, and its lock with it

        async def released() -> bool:
            connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
            try:
                return not await connection.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1", KEY_LOCK_SPACE
                )
            finally:
                await connection.close()

        await wait_until(released, "PostgreSQL to end the killed API's transaction")
    retry = await client.post("/api/v1/alerts", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    again = await client.post("/api/v1/alerts", json=body, headers=headers)
    assert again.status_code == 201 and again.content == retry.content
    assert await committed(app, ServiceRequest, ServiceRequest.urgency == "emergency") == 1


async def test_postgresql_probes_a_silent_api_host_so_its_keys_do_not_stay_taken(app, db, settings):
    """A vanished host (not a killed process) sends no FIN: the server's keepalive probes end its transaction."""
    if not on_postgresql(settings):
        pytest.skip("SQLite's lock lives in the API's own process")
    from sqlalchemy import text

    for sessions in (app.state.sessions, app.state.reports.sessions):
        async with sessions() as session:
            assert (await session.exec(text("SHOW tcp_keepalives_idle"))).scalar_one() in ("10", "10s")
