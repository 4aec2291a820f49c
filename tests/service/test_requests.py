from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from service.db import utcnow
from tests.service.helpers import build_world, new_request, offer_to
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio


async def test_operator_creates_reads_lists_and_cancels(client, token, db):
    world = await build_world(client, token)
    created = await new_request(client, world, note="老人说厨房需要打扫")
    assert created["status"] == "open" and created["kind"] == "ad_hoc" and created["assignments"] == []
    assert [t["status"] for t in created["timeline"]] == ["open"]
    assert created["timeline"][0]["by"] == "operator:test-operator"

    assignment_id = await offer_to(db, created["id"], world.provider_id)
    detail = (await client.get(f"/api/v1/requests/{created['id']}", headers=world.operator)).json()
    assert detail["status"] == "assigned"
    assert [(a["id"], a["provider_id"], a["status"]) for a in detail["assignments"]] == [
        (assignment_id, world.provider_id, "offered")
    ]

    listed = (
        await client.get(
            "/api/v1/requests", params={"status": "assigned", "elder_id": world.elder_id}, headers=world.operator
        )
    ).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]

    cancelled = await client.post(
        f"/api/v1/requests/{created['id']}/cancel", json={"reason": "家属已处理"}, headers=world.operator
    )
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "家属已处理"
    assert body["assignments"][-1]["status"] == "cancelled"
    assert [t["status"] for t in body["timeline"]] == ["open", "assigned", "cancelled"]
    again = await client.post(f"/api/v1/requests/{created['id']}/cancel", json={"reason": "x"}, headers=world.operator)
    assert again.status_code == 409
    # The provider's app sees the offer withdrawn, and accepting it now is a conflict.
    accept = await client.post(
        f"/api/v1/provider/assignments/{assignment_id}/accept", json={"caregiver": "王"}, headers=world.provider
    )
    assert accept.status_code == 409


async def test_idempotent_request_creation(client, token):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "meal"}
    headers = {**world.operator, "Idempotency-Key": "call-20261203-0001"}
    first = await client.post("/api/v1/requests", json=body, headers=headers)
    second = await client.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    other = await client.post("/api/v1/requests", json={**body, "service": "clean"}, headers=headers)
    assert other.status_code == 422
    listed = (await client.get("/api/v1/requests", headers=world.operator)).json()
    assert len(listed["items"]) == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"elder_id": 999999}, "elder_id"),
        ({"service": "spa"}, "service"),
        ({"urgency": "whenever"}, "urgency"),
        ({"channel": "fax"}, "channel"),
        ({"window_start": "2026-12-03T09:30:00"}, "window_start"),  # no offset
        ({"window_start": "2026-12-03T10:00:00+08:00", "window_end": "2026-12-03T09:00:00+08:00"}, "body"),
        ({"note": "x" * 501}, "note"),
    ],
)
async def test_bad_requests_are_422(client, token, override, field):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean", **override}
    response = await client.post("/api/v1/requests", json=body, headers=world.operator)
    assert response.status_code == 422, response.text
    assert field in problem_fields(response)
    assert (await client.get("/api/v1/requests", headers=world.operator)).json()["items"] == []


async def test_request_for_a_moved_elder_is_refused(client, token):
    world = await build_world(client, token)
    await client.patch(f"/api/v1/elders/{world.elder_id}", json={"status": "moved"}, headers=world.admin)
    response = await client.post(
        "/api/v1/requests", json={"elder_id": world.elder_id, "service": "clean"}, headers=world.operator
    )
    assert response.status_code == 422 and "elder_id" in problem_fields(response)


async def test_unknown_request_and_wrong_roles(client, token):
    world = await build_world(client, token)
    assert (await client.get("/api/v1/requests/424242", headers=world.operator)).status_code == 404
    assert (
        await client.post("/api/v1/requests/424242/cancel", json={"reason": "x"}, headers=world.operator)
    ).status_code == 404
    assert (await client.get("/api/v1/requests/424242/explanation", headers=world.operator)).status_code == 404
    request = await new_request(client, world)
    for headers in (world.provider, await token("regulator", area_code="530111")):
        assert (await client.get(f"/api/v1/requests/{request['id']}", headers=headers)).status_code == 403
        assert (
            await client.post(
                "/api/v1/requests", json={"elder_id": world.elder_id, "service": "clean"}, headers=headers
            )
        ).status_code == 403
    assert (await client.get("/api/v1/requests")).status_code == 401
    bad_filter = await client.get("/api/v1/requests", params={"month": "2026-13"}, headers=world.operator)
    assert bad_filter.status_code == 422 and "month" in problem_fields(bad_filter)


async def test_alerts_create_one_emergency_and_merge_repeats(client, token):
    world = await build_world(client, token, device_id="YJT-0001")
    alert = {"device_id": "YJT-0001", "kind": "fall", "at": "2026-11-20T08:00:00+08:00"}
    first = await client.post("/api/v1/alerts", json=alert, headers=world.operator)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["urgency"] == "emergency" and body["service"] == "emergency" and body["channel"] == "one_touch"
    assert body["elder_id"] == world.elder_id
    repeat = await client.post("/api/v1/alerts", json={**alert, "kind": "sos"}, headers=world.operator)
    assert repeat.status_code == 200 and repeat.json()["id"] == body["id"]
    by_elder = await client.post(
        "/api/v1/alerts",
        json={"elder_id": world.elder_id, "kind": "sos", "at": "2026-11-20T08:01:00+08:00"},
        headers=world.operator,
    )
    assert by_elder.status_code == 200 and by_elder.json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"device_id": "NOPE", "kind": "sos", "at": "2026-11-20T08:00:00+08:00"}, "device_id"),
        ({"kind": "sos", "at": "2026-11-20T08:00:00+08:00"}, "body"),
        ({"device_id": "YJT-0002", "elder_id": 1, "kind": "sos", "at": "2026-11-20T08:00:00+08:00"}, "body"),
        ({"device_id": "YJT-0002", "kind": "alien", "at": "2026-11-20T08:00:00+08:00"}, "kind"),
        ({"device_id": "YJT-0002", "kind": "sos", "at": "2026-11-20T08:00:00"}, "at"),
        ({"device_id": "YJT-0002", "kind": "sos", "at": "2099-01-01T08:00:00+08:00"}, "at"),
    ],
)
async def test_bad_alerts(client, token, alert, field):
    world = await build_world(client, token, device_id="YJT-0002")
    response = await client.post("/api/v1/alerts", json=alert, headers=world.operator)
    assert response.status_code == 422, response.text
    assert field in problem_fields(response)
    assert (await client.get("/api/v1/requests", headers=world.operator)).json()["items"] == []


async def _stored(db, request_id: int):
    """The request's audit events and the Idempotency-Key records, as committed."""
    from sqlmodel import select

    from service.audit.models import AuditEvent
    from service.idempotency.models import IdempotencyRecord

    async with db() as session:
        events = (
            await session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity == "service_request", AuditEvent.entity_id == str(request_id))
                .order_by(AuditEvent.id)
            )
        ).all()
        keys = (await session.exec(select(IdempotencyRecord))).all()
        return [e.action for e in events], keys


async def test_a_created_request_answers_exactly_what_is_stored(client, token, db):
    world = await build_world(client, token)
    body = {
        "elder_id": world.elder_id,
        "service": "meal",
        "urgency": "urgent",
        "note": "午饭",
        "window_start": "2026-12-03T09:30:00+08:00",
        "window_end": "2026-12-03T11:30:00+08:00",
    }
    created = await client.post("/api/v1/requests", json=body, headers={**world.operator, "Idempotency-Key": "k-1"})
    assert created.status_code == 201, created.text
    stored = await client.get(f"/api/v1/requests/{created.json()['id']}", headers=world.operator)
    assert created.json() == stored.json()
    actions, keys = await _stored(db, created.json()["id"])
    assert actions == ["request.create"]
    assert [(k.key, k.state, k.status_code, k.response) for k in keys] == [("k-1", "done", 201, created.json())]
    unkeyed = await client.post("/api/v1/requests", json=body, headers=world.operator)
    assert unkeyed.status_code == 201
    stored = await client.get(f"/api/v1/requests/{unkeyed.json()['id']}", headers=world.operator)
    assert unkeyed.json() == stored.json()


async def test_alerts_answer_what_is_stored_and_merges_are_audited(client, token, db):
    world = await build_world(client, token)
    alert = {"elder_id": world.elder_id, "kind": "fall", "at": "2026-11-20T08:00:00+08:00"}
    first = await client.post("/api/v1/alerts", json=alert, headers={**world.operator, "Idempotency-Key": "a-1"})
    assert first.status_code == 201
    assert first.json() == (await client.get(f"/api/v1/requests/{first.json()['id']}", headers=world.operator)).json()
    merged = await client.post(
        "/api/v1/alerts", json={**alert, "kind": "sos"}, headers={**world.operator, "Idempotency-Key": "a-2"}
    )
    assert merged.status_code == 200 and merged.json()["id"] == first.json()["id"]
    actions, keys = await _stored(db, first.json()["id"])
    assert actions == ["request.create", "request.alert_merged"]
    assert {(k.key, k.state, k.status_code) for k in keys} == {("a-1", "done", 201), ("a-2", "done", 200)}


async def test_a_create_that_fails_after_writing_leaves_nothing_and_frees_its_key(client, token, db, monkeypatch):
    from service.errors import Invalid
    from service.requests import service

    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    headers = {**world.operator, "Idempotency-Key": "k-fails"}
    answer = service.new_request_detail

    def fail_after_the_inserts(row):
        raise Invalid.field("service", "failed on purpose, after the request and its audit event were flushed")

    monkeypatch.setattr(service, "new_request_detail", fail_after_the_inserts)
    assert (await client.post("/api/v1/requests", json=body, headers=headers)).status_code == 422
    assert (await client.get("/api/v1/requests", headers=world.operator)).json()["items"] == []
    async with db() as session:
        from sqlmodel import func, select

        from service.audit.models import AuditEvent
        from service.idempotency.models import IdempotencyRecord

        assert (
            await session.exec(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "service_request")
            )
        ).one() == 0
        assert (await session.exec(select(func.count()).select_from(IdempotencyRecord))).one() == 0
    monkeypatch.setattr(service, "new_request_detail", answer)
    retried = await client.post("/api/v1/requests", json=body, headers=headers)
    assert retried.status_code == 201
    assert len((await client.get("/api/v1/requests", headers=world.operator)).json()["items"]) == 1


async def test_a_refused_create_frees_its_key(client, token):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean"}
    headers = {**world.operator, "Idempotency-Key": "k-moved"}
    await client.patch(f"/api/v1/elders/{world.elder_id}", json={"status": "moved"}, headers=world.admin)
    assert (await client.post("/api/v1/requests", json=body, headers=headers)).status_code == 422
    await client.patch(f"/api/v1/elders/{world.elder_id}", json={"status": "active"}, headers=world.admin)
    assert (await client.post("/api/v1/requests", json=body, headers=headers)).status_code == 201


async def test_keyed_creates_return_no_connection_to_the_pool_in_autocommit(client, token, db, app, settings):
    """No pooled connection is handed on in autocommit after keyed creates (an earlier claim was a
    self-committing INSERT on PostgreSQL)."""
    import contextlib

    from sqlalchemy import text

    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's pool")
    world = await build_world(client, token)
    for i in range(4):
        response = await client.post(
            "/api/v1/requests",
            json={"elder_id": world.elder_id, "service": "clean"},
            headers={**world.operator, "Idempotency-Key": f"k-{i}"},
        )
        assert response.status_code == 201
    engine = app.state.engine
    async with contextlib.AsyncExitStack() as stack:  # every idle connection at once, each writing and rolling back
        connections = [
            await stack.enter_async_context(engine.connect()) for _ in range(engine.sync_engine.pool.checkedin())
        ]
        for connection in connections:
            await connection.execute(
                text(
                    "INSERT INTO audit_event (at, actor, action, entity, entity_id) "
                    "VALUES (now(), 'test', 'probe', 'probe', '1')"
                )
            )
            await connection.rollback()
        assert connections
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM audit_event WHERE action = 'probe'"))).scalar() == 0


async def test_a_key_whose_answer_cannot_be_built_commits_nothing(client, token, db, monkeypatch):
    """The work and the key's answer commit together: if building the answer fails after the elder was
    written, neither stays, and the retry with the key creates the elder at once, once."""
    from sqlmodel import func, select

    from service.elders import service as elders
    from service.elders.models import Elder
    from service.idempotency.models import IdempotencyRecord
    from tests.factories import elder_body

    admin = await token("admin")
    headers = {**admin, "Idempotency-Key": "e-1"}
    answer = elders.to_public

    def fail_after_the_work(*_args):
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(elders, "to_public", fail_after_the_work)
    body = elder_body()
    with pytest.raises(RuntimeError):
        await client.post("/api/v1/elders", json=body, headers=headers)
    async with db() as session:
        assert (await session.exec(select(func.count()).select_from(Elder))).one() == 0
        assert (await session.exec(select(func.count()).select_from(IdempotencyRecord))).one() == 0
    monkeypatch.setattr(elders, "to_public", answer)
    retried = await client.post("/api/v1/elders", json=body, headers=headers)
    assert retried.status_code == 201
    assert (await client.post("/api/v1/elders", json=body, headers=headers)).content == retried.content
    async with db() as session:
        assert (await session.exec(select(func.count()).select_from(Elder))).one() == 1
        [record] = (await session.exec(select(IdempotencyRecord))).all()
        assert record.state == "done"


async def test_a_window_within_the_year_ahead_is_taken(client, token):
    world = await build_world(client, token)
    day = (utcnow() + timedelta(days=300)).replace(hour=9, minute=0, second=0, microsecond=0)
    created = await new_request(
        client, world, window_start=day.isoformat(), window_end=(day + timedelta(hours=2)).isoformat()
    )
    assert created["window_start"].startswith(day.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))


async def test_an_sos_is_never_refused_for_its_gps_fix(client, token):
    """A button pressed without a GPS fix reports 0/0; the elder's home is where help goes."""
    world = await build_world(client, token)
    alert = {"elder_id": world.elder_id, "kind": "sos", "at": utcnow().isoformat(), "location": {"lat": 0, "lon": 0}}
    assert (await client.post("/api/v1/alerts", json=alert, headers=world.operator)).status_code == 201
