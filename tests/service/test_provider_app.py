from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from service.db import utcnow
from service.dispatching import sweeps
from service.lifecycle import moves
from service.lifecycle.models import Assignment, QuotaUsage
from service.settings import Settings
from tests.service.helpers import accepted_assignment, build_world, new_request, offer_to

pytestmark = pytest.mark.asyncio


async def test_pull_shows_offers_with_masked_elder_and_cursor_returns_only_changes(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world, urgency="urgent")
    assignment_id = await offer_to(db, request["id"], world.provider_id)

    first = await client.get("/api/v1/provider/assignments", headers=world.provider)
    assert first.status_code == 200
    [item] = first.json()["items"]
    assert item["id"] == assignment_id and item["status"] == "offered" and item["urgency"] == "urgent"
    assert "****" in item["elder"]["phone"] and item["elder"]["location"]["coord_sys"] == "wgs84"
    assert set(item["elder"]) == {"name", "phone", "address", "location"}

    # The other provider sees nothing of it.
    assert (await client.get("/api/v1/provider/assignments", headers=world.other_provider)).json()["items"] == []

    # Nothing changed: a pull far enough after the last (simulated by moving the row back in time) is empty.
    async with db() as session:
        row = await session.get(Assignment, assignment_id)
        row.updated_at = utcnow() - timedelta(minutes=5)
        session.add(row)
        await session.commit()
    settled = await client.get("/api/v1/provider/assignments", headers=world.provider)
    cursor = settled.json()["next_cursor"]
    quiet = await client.get("/api/v1/provider/assignments", params={"cursor": cursor}, headers=world.provider)
    assert quiet.json()["items"] == []
    await client.post(
        f"/api/v1/provider/assignments/{assignment_id}/accept", json={"caregiver": "李"}, headers=world.provider
    )
    changed = await client.get("/api/v1/provider/assignments", params={"cursor": cursor}, headers=world.provider)
    assert [(i["id"], i["status"]) for i in changed.json()["items"]] == [(assignment_id, "accepted")]


async def test_pull_pages_through_many(client, token, db):
    world = await build_world(client, token)
    ids = []
    for _ in range(5):
        request = await new_request(client, world)
        ids.append(await offer_to(db, request["id"], world.provider_id))
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/provider/assignments", params=params, headers=world.provider)).json()
        seen.extend(i["id"] for i in page["items"])
        cursor = page["next_cursor"]
        if len(page["items"]) < 2:
            break
    assert set(ids) <= set(seen)
    bad = await client.get("/api/v1/provider/assignments", params={"cursor": "zzz"}, headers=world.provider)
    assert bad.status_code == 422
    bad_status = await client.get("/api/v1/provider/assignments", params={"status": "lost"}, headers=world.provider)
    assert bad_status.status_code == 422


async def test_accept_is_idempotent_for_the_same_caregiver_and_409_for_another(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world)
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    url = f"/api/v1/provider/assignments/{assignment_id}/accept"
    first = await client.post(url, json={"caregiver": "李"}, headers=world.provider)
    again = await client.post(url, json={"caregiver": "李"}, headers=world.provider)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert (await client.post(url, json={"caregiver": "王"}, headers=world.provider)).status_code == 409
    assert (await client.post(url, json={"caregiver": "李"}, headers=world.other_provider)).status_code == 404
    assert (
        await client.post(
            "/api/v1/provider/assignments/999999/accept", json={"caregiver": "李"}, headers=world.provider
        )
    ).status_code == 404
    assert (await client.post(url, json={}, headers=world.provider)).status_code == 422
    assert (await client.post(url, json={"caregiver": "李"}, headers=world.operator)).status_code == 403
    assert (await client.post(url, json={"caregiver": "李"})).status_code == 401
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "accepted" and detail["assignments"][0]["caregiver"] == "李"


async def test_two_apps_racing_to_accept_one_offer(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world)
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    url = f"/api/v1/provider/assignments/{assignment_id}/accept"
    responses = await asyncio.gather(
        *(client.post(url, json={"caregiver": f"护理员{i}"}, headers=world.provider) for i in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5


async def test_decline_returns_the_request_to_dispatch_and_frees_quota(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world)
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    url = f"/api/v1/provider/assignments/{assignment_id}/decline"
    declined = await client.post(url, json={"reason": "人手不足"}, headers=world.provider)
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert (await client.post(url, json={"reason": "人手不足"}, headers=world.provider)).status_code == 200
    assert (await client.post(url, json={"reason": ""}, headers=world.provider)).status_code == 422
    assert (await client.post(url, json={"reason": "x"}, headers=world.other_provider)).status_code == 404
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "open"
    async with db() as session:
        assert await moves.excluded_providers(session, request["id"]) == {world.provider_id}
        usage = (await session.exec(select(QuotaUsage).where(QuotaUsage.provider_id == world.provider_id))).one()
        assert usage.used == 0
    accept_after = await client.post(
        f"/api/v1/provider/assignments/{assignment_id}/accept", json={"caregiver": "李"}, headers=world.provider
    )
    assert accept_after.status_code == 409


async def test_expired_offer_goes_back_to_dispatch_then_unassignable_after_max_tries(client, token, db):
    world = await build_world(client, token)
    settings = Settings(max_dispatch_attempts=2)
    request = await new_request(client, world)
    for attempt, provider_id in enumerate((world.provider_id, world.other_provider_id), start=1):
        assignment_id = await offer_to(db, request["id"], provider_id, settings)
        expired = await sweeps.expire_offers(db, now=utcnow() + timedelta(days=2), settings=settings)
        assert expired == 1
        accept = await client.post(
            f"/api/v1/provider/assignments/{assignment_id}/accept",
            json={"caregiver": "李"},
            headers=world.provider if provider_id == world.provider_id else world.other_provider,
        )
        assert accept.status_code == 409
        detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
        assert detail["status"] == ("open" if attempt == 1 else "unassignable")
    async with db() as session:
        assert await moves.excluded_providers(session, request["id"]) == {world.provider_id, world.other_provider_id}
    assert await sweeps.expire_offers(db, now=utcnow() + timedelta(days=2), settings=settings) == 0


async def test_quota_is_never_exceeded(client, token, db):
    world = await build_world(client, token)
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"monthly_quota": 1}, headers=world.admin)
    first, second = await new_request(client, world), await new_request(client, world)
    await offer_to(db, first["id"], world.provider_id)
    async with db() as session:
        from service.lifecycle.models import ServiceRequest

        request = await session.get(ServiceRequest, second["id"])
        refused = await moves.offer(
            session, request, world.provider_id, km=1.0, explanation=None, actor="t", now=utcnow(), settings=Settings()
        )
        assert refused is None
        await session.rollback()
    detail = (await client.get(f"/api/v1/requests/{second['id']}", headers=world.operator)).json()
    assert detail["status"] == "open" and detail["assignments"] == []


async def test_accepted_assignment_fixture_works(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world)
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "accepted" and detail["assignments"][0]["id"] == assignment_id
    assert [t["status"] for t in detail["timeline"]] == ["open", "assigned", "accepted"]


async def test_a_provider_lists_its_own_visits_of_a_month(client, token, db):
    from service.months import month_of
    from tests.service.helpers import ago, check_in_body

    world = await build_world(client, token)
    mine = []
    for _ in range(3):
        _, assignment_id = await accepted_assignment(client, db, world)
        visit = await client.post(
            "/api/v1/provider/visits", json=check_in_body(assignment_id, ago(minutes=30)), headers=world.provider
        )
        mine.append(visit.json()["id"])
    month = month_of(ago(minutes=30), Settings().tz)
    seen, cursor = [], None
    for _ in range(4):
        page = (
            await client.get(
                "/api/v1/provider/visits",
                headers=world.provider,
                params={"month": month, "limit": 2, **({"cursor": cursor} if cursor else {})},
            )
        ).json()
        seen += [(v["id"], v["caregiver"]) for v in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [(visit_id, "李护理员") for visit_id in mine]
    others = await client.get("/api/v1/provider/visits", params={"month": month}, headers=world.other_provider)
    assert others.json()["items"] == []
    assert (await client.get("/api/v1/provider/visits", params={"month": "2001-01"}, headers=world.provider)).json()[
        "items"
    ] == []
    for bad in ({}, {"month": "2026-13"}):
        assert (await client.get("/api/v1/provider/visits", params=bad, headers=world.provider)).status_code == 422
    by_operator = await client.get("/api/v1/provider/visits", params={"month": month}, headers=world.operator)
    assert by_operator.status_code == 403
