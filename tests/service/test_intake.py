"""Registering a request with an Idempotency-Key: one statement on PostgreSQL, the ORM on SQLite, the same
answers on both (docs/api.md § Conventions)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from sqlmodel import func, select

from service.audit.models import AuditEvent
from service.db import asyncpg_dsn, utcnow
from service.idempotency.models import IdempotencyRecord
from service.lifecycle.models import ServiceRequest
from service.requests.intake import KEY_LOCK_SPACE, key_lock
from tests.service.helpers import build_world

pytestmark = pytest.mark.asyncio


def on_postgresql(settings) -> bool:
    return settings.database_url.startswith("postgresql")


async def _counts(db) -> tuple[int, int, int]:
    """Requests, their audit events and Idempotency-Key records, as committed."""
    async with db() as session:
        requests = (await session.exec(select(func.count()).select_from(ServiceRequest))).one()
        events = (
            await session.exec(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "service_request")
            )
        ).one()
        keys = (await session.exec(select(func.count()).select_from(IdempotencyRecord))).one()
    return requests, events, keys


async def test_a_replay_is_the_first_answer_byte_for_byte(client, token, db):
    world = await build_world(client, token)
    body = {
        "elder_id": world.elder_id,
        "service": "meal",
        "urgency": "urgent",
        "channel": "app",
        "note": '老人说："午饭要软一点"\n\t（糖尿病）',
        "window_start": "2026-12-03T09:30:00+08:00",
    }
    headers = {**world.operator, "Idempotency-Key": "call-0001"}
    first = await client.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    again = await client.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 201 and again.content == first.content
    stored = await client.get(f"/api/v1/requests/{first.json()['id']}", headers=world.operator)
    assert stored.json() == first.json()
    assert first.json()["window_start"] == "2026-12-03T01:30:00Z" and first.json()["month"] == "2026-12"
    assert await _counts(db) == (1, 1, 1)


async def test_a_replay_answers_even_after_the_elder_moved(client, token, db):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    headers = {**world.operator, "Idempotency-Key": "before-the-move"}
    first = await client.post("/api/v1/requests", json=body, headers=headers)
    await client.patch(f"/api/v1/elders/{world.elder_id}", json={"status": "moved"}, headers=world.admin)
    again = await client.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 201 and again.content == first.content
    refused = await client.post("/api/v1/requests", json=body, headers={**world.operator, "Idempotency-Key": "after"})
    assert refused.status_code == 422 and refused.json()["errors"] == [
        {"field": "elder_id", "reason": f"elder {world.elder_id} is moved; no service can be sent"}
    ]
    assert await _counts(db) == (1, 1, 1)


async def test_a_claim_a_dead_request_left_running_does_not_block_its_retry(client, token, db):
    """Issue 10, item 5: a claim committed on its own whose request then died (the earlier two-step claim,
    state running, fresh) blocked the key for two minutes with 409; the retry now creates at once."""
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    headers = {**world.operator, "Idempotency-Key": "in-flight"}
    first = await client.post("/api/v1/requests", json=body, headers=headers)
    async with db() as session:
        record = (await session.exec(select(IdempotencyRecord))).one()
        twin = IdempotencyRecord(
            principal=record.principal,
            key="running-key",
            fingerprint=record.fingerprint,
            state="running",
            created_at=utcnow(),
        )
        session.add(twin)
        await session.commit()
    headers = {**world.operator, "Idempotency-Key": "running-key"}
    response = await client.post("/api/v1/requests", json=body, headers=headers)
    assert response.status_code == 201 and response.json()["id"] != first.json()["id"]
    assert first.status_code == 201 and await _counts(db) == (2, 2, 2)
    again = await client.post("/api/v1/requests", json=body, headers=headers)
    assert again.status_code == 201 and again.content == response.content and await _counts(db) == (2, 2, 2)


async def test_a_twin_while_the_first_statement_runs_is_409(client, token, db, settings):
    """On PostgreSQL the first create holds the key's advisory lock while its statement runs."""
    if not on_postgresql(settings):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite's write lock makes a twin wait its turn")
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    headers = {**world.operator, "Idempotency-Key": "twin"}
    owner = await client.post("/api/v1/requests", json=body, headers={**world.operator, "Idempotency-Key": "who-am-i"})
    async with db() as session:
        principal = (await session.exec(select(IdempotencyRecord.principal))).one()
    assert owner.status_code == 201
    holder = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        transaction = holder.transaction()
        await transaction.start()
        assert await holder.fetchval(
            "SELECT pg_try_advisory_xact_lock($1, $2)", KEY_LOCK_SPACE, key_lock(principal, "twin")
        )
        response = await client.post("/api/v1/requests", json=body, headers=headers)
        assert response.status_code == 409 and "still being processed" in response.json()["detail"]
        assert await _counts(db) == (1, 1, 1)
        await transaction.rollback()
    finally:
        await holder.close()
    assert (await client.post("/api/v1/requests", json=body, headers=headers)).status_code == 201
    assert await _counts(db) == (2, 2, 2)


async def test_concurrent_twins_create_one_request(client, token, db):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "emergency", "urgency": "emergency"}
    headers = {**world.operator, "Idempotency-Key": "six-presses"}
    responses = await asyncio.gather(*(client.post("/api/v1/requests", json=body, headers=headers) for _ in range(6)))
    assert {r.status_code for r in responses} <= {201, 409}
    answers = {r.content for r in responses if r.status_code == 201}
    assert len(answers) == 1
    assert await _counts(db) == (1, 1, 1)


async def test_keyless_creates_and_refusals(client, token, db):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    first, second = [await client.post("/api/v1/requests", json=body, headers=world.operator) for _ in range(2)]
    assert first.status_code == second.status_code == 201 and first.json()["id"] != second.json()["id"]
    missing = await client.post(
        "/api/v1/requests", json={**body, "elder_id": 987654}, headers={**world.operator, "Idempotency-Key": "nobody"}
    )
    assert missing.status_code == 422 and missing.json()["errors"] == [
        {"field": "elder_id", "reason": "elder 987654 does not exist"}
    ]
    assert await _counts(db) == (2, 2, 0)


async def test_creation_notifies_the_leader_scheduler(client, token, db, settings):
    """The production scheduler LISTENs; each new request NOTIFYs it, emergencies as such."""
    if not on_postgresql(settings):
        pytest.skip("NOTIFY is PostgreSQL's; the embedded scheduler is poked in-process")
    world = await build_world(client, token)
    listener = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("homecare_dispatch", lambda _c, _p, _ch, payload: heard.put_nowait(payload))
    try:
        keyed = {**world.operator, "Idempotency-Key": "n-1"}
        emergency = {"elder_id": world.elder_id, "service": "emergency", "urgency": "emergency"}
        assert (await client.post("/api/v1/requests", json=emergency, headers=keyed)).status_code == 201
        assert await asyncio.wait_for(heard.get(), 5) == "emergency"
        assert (await client.post("/api/v1/requests", json=emergency, headers=keyed)).status_code == 201  # replay
        routine = {"elder_id": world.elder_id, "service": "clean"}
        assert (await client.post("/api/v1/requests", json=routine, headers=world.operator)).status_code == 201
        assert await asyncio.wait_for(heard.get(), 5) == ""
        assert (
            await client.post("/api/v1/requests", json={**routine, "elder_id": 987654}, headers=world.operator)
        ).status_code == 422
        with contextlib.suppress(TimeoutError):
            extra = await asyncio.wait_for(heard.get(), 0.5)
            pytest.fail(f"a replay or a refusal notified the scheduler ({extra!r})")
    finally:
        await listener.close()


async def test_pokes_while_a_notify_is_in_flight_fold_into_one(app, db, settings):
    """Under load the API process NOTIFYs once per round trip, not once per request."""
    if not on_postgresql(settings):
        pytest.skip("NOTIFY is PostgreSQL's")
    from service.dispatching.wakeup import Notifier

    listener = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("homecare_dispatch", lambda _c, _p, _ch, payload: heard.put_nowait(payload))
    notifier = Notifier(settings.database_url)
    try:
        for emergency in (False, False, True, False):  # all before the first NOTIFY goes out
            notifier.poke(emergency)
        await notifier.close()
        assert await asyncio.wait_for(heard.get(), 5) == "emergency"
        notifier.poke()
        await notifier.close()
        assert await asyncio.wait_for(heard.get(), 5) == ""
        with contextlib.suppress(TimeoutError):
            extra = await asyncio.wait_for(heard.get(), 0.5)
            pytest.fail(f"one NOTIFY too many ({extra!r})")
    finally:
        await listener.close()


async def test_a_notify_that_cannot_be_sent_is_logged_and_dropped(caplog):
    """The work is committed before the poke: a scheduler out of reach finds it at its next tick."""
    from service.dispatching.wakeup import Notifier

    notifier = Notifier("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")  # nothing listens on port 9
    with caplog.at_level("WARNING", logger="homecare.wakeup"):
        notifier.poke(emergency=True)
        await notifier.close()
    assert "could not notify the scheduler" in caplog.text
    assert notifier._connection is None


async def test_a_notify_caught_mid_operation_by_a_restart_is_logged_and_dropped(caplog):
    """asyncpg's InternalClientError ("cannot switch to state …") once killed the sender task unseen."""
    import asyncpg

    from service.dispatching.wakeup import Notifier

    class Interrupted:
        terminated = False

        def is_closed(self) -> bool:
            return False

        async def execute(self, *_args):
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation is in progress")

        def terminate(self) -> None:
            self.terminated = True

    notifier, connection = Notifier("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"), Interrupted()
    notifier._connection = connection
    with caplog.at_level("WARNING", logger="homecare.wakeup"):
        notifier.poke(emergency=True)
        await notifier.close()
    assert "could not notify the scheduler (InternalClientError)" in caplog.text
    assert connection.terminated and notifier._connection is None


async def test_the_one_statement_create_names_every_column_of_the_request_table():
    """A column added to the model (or dropped from it) must be added to (or dropped from) the statement."""
    from service.lifecycle.models import ServiceRequest
    from service.requests import intake

    columns = [column.name for column in ServiceRequest.__table__.columns]
    assert list(intake.REQUEST_VALUES) == columns
    assert set(intake._HELD_BY) == set(columns)
    assert f"INSERT INTO service_request ({', '.join(columns)})" in intake.CREATE
