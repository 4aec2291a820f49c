"""Offers written many at once (lifecycle.moves.offer_many): the tick's batches and the monthly plan share it."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.lifecycle import moves, quota
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.settings import Settings
from tests.service.helpers import build_world, new_request

pytestmark = pytest.mark.asyncio


async def _requests(client, world, n: int, **overrides) -> list[dict]:
    return [await new_request(client, world, **overrides) for _ in range(n)]


def _offer(request: dict, provider_id: int) -> moves.Offer:
    return moves.Offer(
        request["id"],
        provider_id,
        request["month"],
        request["urgency"],
        1.25,
        {"kind": "test", "provider_id": provider_id},
    )


async def test_a_batch_is_offered_with_its_audit_and_quota(client, token, db):
    world = await build_world(client, token)
    first, second = (
        await _requests(client, world, 2),
        await _requests(client, world, 1, urgency="emergency", service="emergency"),
    )
    now = utcnow()
    wanted = [_offer(r, world.provider_id) for r in first] + [_offer(r, world.other_provider_id) for r in second]
    async with db() as session:
        offered = await moves.offer_many(session, wanted, actor="dispatcher", now=now, settings=Settings())
        await session.commit()
    assert offered.full == set() and set(offered.assignments) == {r["id"] for r in first + second}
    async with db() as session:
        rows = (await session.exec(select(Assignment).order_by(col(Assignment.request_id)))).all()
        assert [(a.request_id, a.provider_id, a.status, a.km, a.offered_at) for a in rows] == [
            (o.request_id, o.provider_id, "offered", 1.25, now) for o in wanted
        ]
        assert {a.request_id: a.id for a in rows} == offered.assignments
        emergency = next(a for a in rows if a.request_id == second[0]["id"])
        assert (emergency.expires_at - now).total_seconds() == Settings().offer_timeout_emergency_s
        requests = (await session.exec(select(ServiceRequest).order_by(col(ServiceRequest.id)))).all()
        assert [(r.status, r.attempts, r.updated_at, r.explanation["provider_id"]) for r in requests] == [
            ("assigned", 1, now, o.provider_id) for o in wanted
        ]
        usage = dict((await session.exec(select(QuotaUsage.provider_id, QuotaUsage.used))).all())
        assert usage == {world.provider_id: 2, world.other_provider_id: 1}
        events = (
            await session.exec(
                select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.after).where(
                    AuditEvent.actor == "dispatcher"
                )
            )
        ).all()
    assert sorted((action, entity_id) for action, entity_id, _ in events) == sorted(
        [("request.status", str(o.request_id)) for o in wanted]
        + [("assignment.offered", str(offered.assignments[o.request_id])) for o in wanted]
    )
    assert {"status": "assigned", "attempts": 1} in [after for _, _, after in events]


async def test_a_provider_whose_quota_cannot_take_its_share_gets_none_of_it(client, token, db):
    world = await build_world(client, token)
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"monthly_quota": 2}, headers=world.admin)
    mine, theirs = await _requests(client, world, 3), await _requests(client, world, 1)
    wanted = [_offer(r, world.provider_id) for r in mine] + [_offer(r, world.other_provider_id) for r in theirs]
    async with db() as session:
        offered = await moves.offer_many(session, wanted, actor="dispatcher", now=utcnow(), settings=Settings())
        await session.commit()
    assert offered.full == {(mine[0]["month"], world.provider_id)}
    assert set(offered.assignments) == {theirs[0]["id"]}
    async with db() as session:
        statuses = dict((await session.exec(select(ServiceRequest.id, ServiceRequest.status))).all())
        usage = dict((await session.exec(select(QuotaUsage.provider_id, QuotaUsage.used))).all())
    assert [statuses[r["id"]] for r in mine] == ["open"] * 3 and statuses[theirs[0]["id"]] == "assigned"
    assert usage == {world.provider_id: 0, world.other_provider_id: 1}


async def test_requests_no_longer_open_are_left_out_and_their_units_given_back(client, token, db):
    world = await build_world(client, token)
    kept, cancelled = await _requests(client, world, 2)
    await client.post(
        f"/api/v1/requests/{cancelled['id']}/cancel", json={"reason": "家属已处理"}, headers=world.operator
    )
    async with db() as session:
        offered = await moves.offer_many(
            session,
            [_offer(kept, world.provider_id), _offer(cancelled, world.provider_id)],
            actor="dispatcher",
            now=utcnow(),
            settings=Settings(),
        )
        await session.commit()
        assert set(offered.assignments) == {kept["id"]} and offered.full == set()
        assert (await quota.used_by_provider(session, kept["month"])) == {world.provider_id: 1}
        assignments = (await session.exec(select(func.count()).select_from(Assignment))).one()
    assert assignments == 1


async def test_quotas_of_several_providers_are_taken_at_once_all_or_nothing(client, token, db):
    world = await build_world(client, token)
    await client.patch(f"/api/v1/providers/{world.other_provider_id}", json={"monthly_quota": 3}, headers=world.admin)
    async with db() as session:
        granted = await quota.take_many(session, "2026-12", {world.provider_id: 5, world.other_provider_id: 4})
        assert granted == {world.provider_id}  # the first of the month also creates the usage rows
        assert await quota.take_many(session, "2026-12", {world.other_provider_id: 3}) == {world.other_provider_id}
        assert await quota.take_many(session, "2026-12", {world.other_provider_id: 1}) == set()
        assert await quota.take_many(session, "2026-12", {}) == set()
        await session.commit()
        assert await quota.used_by_provider(session, "2026-12") == {world.provider_id: 5, world.other_provider_id: 3}
