"""Escalation, never silence, and operators taking over (issue 13 items 2 and 4), through the real app on
both databases. Time is driven by hand: the dispatcher's clock and the sweep's `now` are given, nothing
sleeps."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.dispatching.open_requests import dispatch_open_requests
from service.escalation.sweep import escalate_emergencies
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.settings import Settings
from tests.factories import provider_body
from tests.service import helpers
from tests.service.faults import poisoned_request
from tests.service.helpers import World, ago, build_world, check_in_body, check_out_body, made_before, new_request
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
SETTINGS = Settings()  # escalate after 60 s, queue after 180 s
DEVICE = "YJT-ESC-1"


async def _alert(client, world: World, kind: str = "fall") -> dict:
    response = await client.post(
        "/api/v1/alerts", json={"device_id": DEVICE, "kind": kind, "at": utcnow().isoformat()}, headers=world.operator
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _offers(db, request_id: int) -> dict[int, str]:
    async with db() as session:
        rows = (
            await session.exec(
                select(Assignment.provider_id, Assignment.status)
                .where(Assignment.request_id == request_id)
                .order_by(col(Assignment.id))
            )
        ).all()
    return dict(rows)


async def _status(db, request_id: int) -> str:
    async with db() as session:
        return (await session.exec(select(ServiceRequest.status).where(ServiceRequest.id == request_id))).one()


async def _offered_emergency(client, app, db, world: World) -> tuple[dict, datetime]:
    """An alert, dispatched by a tick whose clock reads the alarm's time: offered to the nearest provider."""
    request = await _alert(client, world)
    alarm = datetime.fromisoformat(request["created_at"])
    tick = await dispatch_open_requests(app.state.sessions, SETTINGS, clock=lambda: alarm)
    assert tick.offered == 1
    assert await _offers(db, request["id"]) == {world.provider_id: "offered"}
    return request, alarm


async def test_an_unanswered_emergency_reaches_a_second_provider_then_the_queue(client, token, app, db):
    world = await build_world(client, token, device_id=DEVICE)
    request, alarm = await _offered_emergency(client, app, db, world)
    sessions = app.state.sessions

    def at(seconds: float) -> datetime:
        return alarm + timedelta(seconds=seconds)

    assert await escalate_emergencies(sessions, now=at(59), settings=SETTINGS) == 0
    assert await _offers(db, request["id"]) == {world.provider_id: "offered"}
    # Within the escalation time + 1 s: the next nearest provider has it too, the first offer still open.
    assert await escalate_emergencies(sessions, now=at(SETTINGS.escalate_after_s + 1), settings=SETTINGS) == 1
    assert await _offers(db, request["id"]) == {world.provider_id: "offered", world.other_provider_id: "offered"}
    assert await _status(db, request["id"]) == "assigned"
    # Nobody more to offer it to: the offers stand until the queue's limit.
    assert await escalate_emergencies(sessions, now=at(179), settings=SETTINGS) == 0
    assert await _status(db, request["id"]) == "assigned"
    assert await escalate_emergencies(sessions, now=at(SETTINGS.escalation_queue_after_s + 1), settings=SETTINGS) == 1
    assert await _status(db, request["id"]) == "escalated"
    assert await escalate_emergencies(sessions, now=at(400), settings=SETTINGS) == 0  # never twice
    # Each open offer holds its unit; the queue keeps them open: the first to accept still takes it.
    async with db() as session:
        usage = dict((await session.exec(select(QuotaUsage.provider_id, QuotaUsage.used))).all())
    assert usage == {world.provider_id: 1, world.other_provider_id: 1}
    assert await _offers(db, request["id"]) == {world.provider_id: "offered", world.other_provider_id: "offered"}

    queue = await client.get("/api/v1/escalations", headers=world.operator)
    assert queue.status_code == 200, queue.text
    [item] = queue.json()["items"]
    assert item["request_id"] == request["id"] and item["status"] == "escalated" and item["alert_kind"] == "fall"
    assert item["waiting_s"] >= 0 and item["elder_id"] == world.elder_id
    assert {o["provider_id"] for o in item["open_offers"]} == {world.provider_id, world.other_provider_id}


async def test_an_escalated_emergency_is_accepted_by_exactly_one_of_two_racing_providers(client, token, app, db):
    world = await build_world(client, token, device_id=DEVICE)
    request, alarm = await _offered_emergency(client, app, db, world)
    await escalate_emergencies(app.state.sessions, now=alarm + timedelta(seconds=61), settings=SETTINGS)
    await escalate_emergencies(app.state.sessions, now=alarm + timedelta(seconds=181), settings=SETTINGS)
    assert await _status(db, request["id"]) == "escalated"
    async with db() as session:
        mine = dict(
            (
                await session.exec(
                    select(Assignment.provider_id, Assignment.id).where(Assignment.request_id == request["id"])
                )
            ).all()
        )

    async def accept(provider_id: int, headers: dict):
        return await client.post(
            f"/api/v1/provider/assignments/{mine[provider_id]}/accept", json={"caregiver": "王护理员"}, headers=headers
        )

    first, second = await asyncio.gather(
        accept(world.provider_id, world.provider), accept(world.other_provider_id, world.other_provider)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409], (first.text, second.text)
    winner, loser = (
        (world.provider_id, world.other_provider_id)
        if first.status_code == 200
        else (world.other_provider_id, world.provider_id)
    )
    assert await _offers(db, request["id"]) == {winner: "accepted", loser: "cancelled"}
    assert await _status(db, request["id"]) == "accepted"
    async with db() as session:
        usage = dict((await session.exec(select(QuotaUsage.provider_id, QuotaUsage.used))).all())
    assert usage == {winner: 1, loser: 0}  # the loser's unit given back with its offer
    again = await accept(loser, world.provider if loser == world.provider_id else world.other_provider)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")


async def test_an_emergency_nobody_may_take_goes_to_the_queue_at_once(client, token, app, db):
    world = await build_world(client, token, device_id=DEVICE)
    await helpers.nobody_may_take(client, world)
    request = await _alert(client, world, kind="smoke")
    await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert await _status(db, request["id"]) == "escalated"
    routine = await new_request(client, world)
    await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert await _status(db, routine["id"]) == "unassignable"  # a routine one too goes to the queue
    items = (await client.get("/api/v1/escalations", headers=world.operator)).json()["items"]
    assert [(i["request_id"], i["status"]) for i in items] == [
        (request["id"], "escalated"),
        (routine["id"], "unassignable"),
    ]
    assert items[0]["alert_kind"] == "smoke" and items[0]["open_offers"] == []
    assert items[0]["contacts"] == [{"name": "张小明", "relation": "child", "phone": "13800138000", "guardian": True}]
    assert items[0]["explanation"]["why_nobody"] == [] or items[0]["explanation"]["provider_id"] is None
    refused = await client.get("/api/v1/escalations", headers=world.provider)
    assert refused.status_code == 403


async def test_candidates_are_ranked_with_the_engines_reasons(client, token, db):
    world = await build_world(client, token)
    far = (await client.post("/api/v1/providers", headers=world.admin, json=provider_body(areas=["530111002"]))).json()
    request = await new_request(client, world)
    response = await client.get(f"/api/v1/requests/{request['id']}/candidates", headers=world.operator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(c["rank"], c["provider_id"], c["offered"]) for c in body["candidates"]] == [
        (1, world.provider_id, False),
        (2, world.other_provider_id, False),
    ]
    assert body["candidates"][0]["km"] < body["candidates"][1]["km"]
    assert [(p["provider_id"], p["reason"]) for p in body["passed_by"]] == [(far["id"], "area_not_contracted")]
    assert (await client.get("/api/v1/requests/999999/candidates", headers=world.operator)).status_code == 404


async def test_an_operator_assigns_by_hand_and_the_provider_accepts(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world)
    body = {"provider_id": world.other_provider_id, "reason": "家属指定该机构"}
    headers = {**world.operator, "Idempotency-Key": "assign-1"}
    response = await client.post(f"/api/v1/requests/{request['id']}/assign", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "assigned"
    [offer] = response.json()["assignments"]
    assert offer["provider_id"] == world.other_provider_id and offer["status"] == "offered"
    replay = await client.post(f"/api/v1/requests/{request['id']}/assign", json=body, headers=headers)
    assert replay.status_code == 200 and replay.json() == response.json()
    async with db() as session:
        events = (
            await session.exec(
                select(AuditEvent.after).where(
                    AuditEvent.action == "request.manual_assign", AuditEvent.entity_id == str(request["id"])
                )
            )
        ).all()
    assert len(events) == 1 and events[0]["reason"] == "家属指定该机构" and events[0]["override"] is False
    # An operator may hand it over again while it is only offered: the first offer is withdrawn.
    again = await client.post(
        f"/api/v1/requests/{request['id']}/assign",
        headers=world.operator,
        json={"provider_id": world.provider_id, "reason": "就近"},
    )
    assert again.status_code == 200, again.text
    assert await _offers(db, request["id"]) == {world.other_provider_id: "cancelled", world.provider_id: "offered"}
    assignment_id = again.json()["assignments"][-1]["id"]
    accepted = await client.post(
        f"/api/v1/provider/assignments/{assignment_id}/accept", json={"caregiver": "李护理员"}, headers=world.provider
    )
    assert accepted.status_code == 200, accepted.text
    late = await client.post(
        f"/api/v1/requests/{request['id']}/assign",
        headers=world.operator,
        json={"provider_id": world.other_provider_id, "reason": "再换"},
    )
    assert late.status_code == 409 and late.headers["content-type"].startswith("application/problem+json")


async def _nothing_written(db, request_id: int) -> None:
    assert await _status(db, request_id) == "open"
    assert await _offers(db, request_id) == {}
    async with db() as session:
        assert (await session.exec(select(AuditEvent).where(AuditEvent.action == "request.manual_assign"))).all() == []


async def test_bad_manual_assignments_are_refused_and_write_nothing(client, token, db):
    world = await build_world(client, token, device_id=DEVICE)
    await client.patch(
        f"/api/v1/providers/{world.other_provider_id}", json={"status": "suspended"}, headers=world.admin
    )
    meal = (await client.post("/api/v1/providers", headers=world.admin, json=provider_body(services=["meal"]))).json()
    request = await new_request(client, world)
    url = f"/api/v1/requests/{request['id']}/assign"
    cases = [
        ({"provider_id": world.other_provider_id, "reason": "x"}, 422, "provider_id"),  # suspended
        ({"provider_id": meal["id"], "reason": "x"}, 422, "provider_id"),  # another service
        ({"provider_id": world.provider_id, "reason": "x", "override": True}, 422, "override"),  # not an emergency
        ({"provider_id": world.provider_id, "reason": ""}, 422, "reason"),
        ({"provider_id": world.provider_id}, 422, "reason"),
        ({"provider_id": 999999, "reason": "x"}, 404, None),
    ]
    for body, status, field in cases:
        response = await client.post(url, json=body, headers=world.operator)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in problem_fields(response), (body, response.text)
    unknown = await client.post(
        "/api/v1/requests/999999/assign", headers=world.operator, json={"provider_id": world.provider_id, "reason": "x"}
    )
    assert unknown.status_code == 404
    await _nothing_written(db, request["id"])
    assert (
        await client.post(url, json={"provider_id": world.provider_id, "reason": "x"}, headers=world.provider)
    ).status_code == 403


async def test_an_emergency_may_be_handed_to_a_provider_outside_normal_reach_with_a_reason(client, token, db):
    world = await build_world(client, token, device_id=DEVICE)
    await client.patch(
        f"/api/v1/providers/{world.other_provider_id}", json={"status": "suspended"}, headers=world.admin
    )
    request = await _alert(client, world)
    url = f"/api/v1/requests/{request['id']}/assign"
    refused = await client.post(
        url, headers=world.operator, json={"provider_id": world.other_provider_id, "reason": "唯一有空的"}
    )
    assert refused.status_code == 422 and "provider_id" in problem_fields(refused)
    response = await client.post(
        url,
        headers=world.operator,
        json={"provider_id": world.other_provider_id, "reason": "唯一有空的", "override": True},
    )
    assert response.status_code == 200, response.text
    assert await _offers(db, request["id"]) == {world.other_provider_id: "offered"}
    async with db() as session:
        [after] = (
            await session.exec(select(AuditEvent.after).where(AuditEvent.action == "request.manual_assign"))
        ).all()
    assert after["override"] is True and "suspended" in after["outside_normal_reach"]


async def test_an_alert_away_from_home_sends_the_caregiver_to_its_place_and_verifies_there(client, token, app, db):
    world = await build_world(client, token, device_id=DEVICE)
    place = {"lat": 25.0350, "lon": 102.7410}  # 1.5 km north of home: out on a walk (外出监护)
    alert = await client.post(
        "/api/v1/alerts",
        headers=world.operator,
        json={
            "device_id": DEVICE,
            "kind": "fall",
            "at": utcnow().isoformat(),
            "location": {**place, "coord_sys": "wgs84"},
        },
    )
    assert alert.status_code == 201, alert.text
    request = alert.json()
    assert (request["alert_kind"], request["alert_lat"], request["alert_lon"]) == ("fall", place["lat"], place["lon"])
    await made_before(db, request["id"], ago(days=1))  # the visit below is dated hours back
    await dispatch_open_requests(app.state.sessions, SETTINGS)
    [offer] = (await client.get("/api/v1/provider/assignments", headers=world.provider)).json()["items"]
    assert offer["alert_kind"] == "fall" and offer["place"] == {**place, "coord_sys": "wgs84"}
    accepted = await client.post(
        f"/api/v1/provider/assignments/{offer['id']}/accept", json={"caregiver": "李护理员"}, headers=world.provider
    )
    assert accepted.status_code == 200, accepted.text
    there = {**place, "coord_sys": "wgs84"}
    started = await client.post(
        "/api/v1/provider/visits", headers=world.provider, json=check_in_body(offer["id"], ago(minutes=90), there)
    )
    assert started.status_code == 201, started.text
    assert started.json()["check_in"]["distance_m"] < 1  # measured from the place, not from home
    ended = await client.post(
        f"/api/v1/provider/visits/{started.json()['id']}/check-out",
        headers=world.provider,
        json=check_out_body(ago(minutes=20), there, tasks=("emergency",)),
    )
    assert ended.status_code == 200, ended.text
    # At the place, 1.5 km from home: on site.
    assert ended.json()["verification"] == {"status": "verified", "exceptions": []}, ended.json()


async def test_an_alert_without_a_fix_or_at_home_is_answered_at_home(client, token, db):
    world = await build_world(client, token, device_id=DEVICE)
    for location in ({"lat": 0, "lon": 0}, {"lat": 25.0212, "lon": 102.7411}):
        alert = await client.post(
            "/api/v1/alerts",
            headers=world.operator,
            json={"device_id": DEVICE, "kind": "sos", "at": utcnow().isoformat(), "location": location},
        )
        assert alert.status_code in (200, 201), alert.text
        assert alert.json()["alert_lat"] is None and alert.json()["alert_lon"] is None


async def test_a_bad_row_goes_to_the_queue_and_never_stops_the_sweep(client, token, app, db):
    world = await build_world(client, token, device_id=DEVICE)
    request, alarm = await _offered_emergency(client, app, db, world)
    poisoned = await poisoned_request(db, world.elder_id, month="2026-13", status="assigned", attempts=1)
    async with db() as session:
        session.add(
            Assignment(
                request_id=poisoned,
                provider_id=world.other_provider_id,
                status="offered",
                offered_at=alarm,
                expires_at=alarm + timedelta(minutes=5),
            )
        )
        await session.commit()
    skip: set[int] = set()
    moved = await escalate_emergencies(
        app.state.sessions, now=alarm + timedelta(seconds=61), settings=SETTINGS, skip=skip
    )
    assert moved == 1 and skip == {poisoned}
    assert await _offers(db, request["id"]) == {world.provider_id: "offered", world.other_provider_id: "offered"}
    assert await _status(db, poisoned) == "escalated"  # never silence: to the operators, with the error
    async with db() as session:
        why = (await session.exec(select(ServiceRequest.explanation).where(ServiceRequest.id == poisoned))).one()
    assert why["kind"] == "error" and why["reason"] == "bad_month"
