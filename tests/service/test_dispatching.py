"""The dispatch tick, offers' expiry back into it, the monthly plan, and racing dispatchers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, func, select

from service.db import utcnow
from service.dispatching.open_requests import dispatch_open_requests
from service.lifecycle.models import Assignment, ServiceRequest
from service.months import month_of
from service.settings import Settings
from tests.factories import elder_body, provider_body
from tests.service.helpers import HOME, build_world, new_request

pytestmark = pytest.mark.asyncio
SETTINGS = Settings()


async def tick(app) -> int:
    return (await dispatch_open_requests(app.state.sessions, SETTINGS)).offered


async def test_emergency_goes_to_the_nearest_provider_offering_emergency_help(client, token, db, app):
    world = await build_world(client, token)
    # The nearest provider does not do emergencies; the farther one (world.provider) does.
    near = (
        await client.post(
            "/api/v1/providers",
            json=provider_body(services=["clean"], stations=[{"name": "门口站", "location": HOME}]),
            headers=world.admin,
        )
    ).json()
    request = await new_request(client, world, service="emergency", urgency="emergency")
    assert await tick(app) == 1
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "assigned" and detail["assignments"][0]["provider_id"] == world.provider_id
    why = (await client.get(f"/api/v1/requests/{request['id']}/explanation", headers=world.operator)).json()
    assert why["decision"]["provider_id"] == world.provider_id
    assert [(r["provider_id"], r["reason"]) for r in why["decision"]["nearer_rejected"]] == [
        (near["id"], "no_emergency_service")
    ]
    assert await tick(app) == 0  # safe to run again


async def test_an_interrupted_tick_stops_and_the_next_one_takes_emergencies_first(client, token, db, app, monkeypatch):
    from service.dispatching import open_requests

    monkeypatch.setattr(open_requests, "OFFER_BATCH", 1)
    world = await build_world(client, token)
    routine = [await new_request(client, world) for _ in range(3)]
    first = await dispatch_open_requests(app.state.sessions, SETTINGS, interrupt=lambda: True)
    assert (first.offered, first.unfinished) == (1, True)  # one batch decided, then it gave way
    emergency = await new_request(client, world, service="emergency", urgency="emergency")
    second = await dispatch_open_requests(app.state.sessions, SETTINGS, interrupt=lambda: True)
    assert (second.offered, second.unfinished) == (1, True)
    async with db() as session:
        statuses = dict((await session.exec(select(ServiceRequest.id, ServiceRequest.status))).all())
    assert statuses[emergency["id"]] == "assigned"  # it jumped the queue of routine requests
    assert [statuses[r["id"]] for r in routine] == ["assigned", "open", "open"]
    finished = await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert (finished.offered, finished.unfinished) == (2, False)


async def test_each_batch_of_offers_is_stamped_when_its_own_transaction_runs(client, token, db, app, monkeypatch):
    from service.dispatching import open_requests

    monkeypatch.setattr(open_requests, "OFFER_BATCH", 2)
    world = await build_world(client, token)
    for _ in range(5):
        await new_request(client, world)
    start, calls = utcnow(), []

    def clock():  # a slow tick: every batch a minute after the one before
        calls.append(start + timedelta(minutes=len(calls)))
        return calls[-1]

    assert (await dispatch_open_requests(app.state.sessions, SETTINGS, clock=clock)).offered == 5
    async with db() as session:
        stamps = (await session.exec(select(Assignment.updated_at).order_by(col(Assignment.id)))).all()
        requests = (await session.exec(select(ServiceRequest.updated_at).order_by(col(ServiceRequest.id)))).all()
    # Not one time for the whole tick: the feed's cursor would pass them by.
    assert len(calls) == 3 and stamps == requests == [calls[0], calls[0], calls[1], calls[1], calls[2]]


async def test_declined_request_is_redispatched_elsewhere_then_nobody(client, token, db, app):
    world = await build_world(client, token)
    request = await new_request(client, world)
    await tick(app)
    first = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()["assignments"][0]
    assert first["provider_id"] == world.provider_id  # the nearer of the two
    await client.post(
        f"/api/v1/provider/assignments/{first['id']}/decline", json={"reason": "没有人手"}, headers=world.provider
    )
    await tick(app)
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert [a["provider_id"] for a in detail["assignments"]] == [world.provider_id, world.other_provider_id]
    second = detail["assignments"][1]["id"]
    await client.post(
        f"/api/v1/provider/assignments/{second}/decline", json={"reason": "太远"}, headers=world.other_provider
    )
    await tick(app)
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "unassignable" and len(detail["assignments"]) == 2
    why = (await client.get(f"/api/v1/requests/{request['id']}/explanation", headers=world.operator)).json()
    assert {r["reason"] for r in why["decision"]["why_nobody"]} == {"declined"}


async def test_two_dispatchers_racing_never_offer_a_request_twice(client, token, db, app):
    world = await build_world(client, token)
    for _ in range(12):
        await new_request(client, world)
    counts = await asyncio.gather(tick(app), tick(app), tick(app))
    assert sum(counts) == 12
    async with db() as session:
        per_request = (
            await session.exec(select(Assignment.request_id, func.count()).group_by(Assignment.request_id))
        ).all()
    assert len(per_request) == 12 and all(n == 1 for _, n in per_request)


async def test_dispatch_respects_quota_under_racing_ticks(client, token, db, app):
    world = await build_world(client, token)
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"monthly_quota": 3}, headers=world.admin)
    await client.patch(f"/api/v1/providers/{world.other_provider_id}", json={"monthly_quota": 2}, headers=world.admin)
    for _ in range(7):
        await new_request(client, world)
    await asyncio.gather(tick(app), tick(app))
    async with db() as session:
        by_provider = dict(
            (await session.exec(select(Assignment.provider_id, func.count()).group_by(Assignment.provider_id))).all()
        )
        statuses = (await session.exec(select(ServiceRequest.status))).all()
    assert by_provider == {world.provider_id: 3, world.other_provider_id: 2}
    assert sorted(statuses).count("unassignable") == 2


async def test_monthly_plan_assigns_everyone_once_and_reruns_duplicate_nothing(client, token, db, app):
    world = await build_world(client, token)  # one elder with 2 visits a month
    admin = world.admin
    for i in range(4):
        await client.post(
            "/api/v1/elders",
            json=elder_body(
                name=f"计划{i}",
                visits_per_month=1 + i % 2,
                services=["clean"],
                location={"lat": HOME["lat"] + 0.002 * i, "lon": HOME["lon"]},
            ),
            headers=admin,
        )
    month = month_of(utcnow(), SETTINGS.tz)
    response = await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": month}, headers=admin)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["state"] == "done"
    summary = plan["summary"]
    assert summary["elders_planned"] == 5
    assert summary["visits_assigned"] == summary["visits_offered"] == 2 + 1 + 2 + 1 + 2
    assert summary["unassigned"] == [] and summary["quality"]["cost_gap"] <= 0.001
    assert summary["visits_placed_on_days"] == 8

    again = await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": month}, headers=admin)
    assert again.json()["summary"]["elders_planned"] == 5  # the month's plan is still the first run …
    assert again.json()["summary"]["later_runs"][0]["elders_planned"] == 0  # … the re-run found nothing new
    async with db() as session:
        planned = (await session.exec(select(ServiceRequest).where(ServiceRequest.kind == "planned"))).all()
        offers = (await session.exec(select(func.count()).select_from(Assignment))).one()
    assert len(planned) == 8 and offers == 8
    assert all(r.status == "assigned" and r.planned_date is not None for r in planned)
    two_visits = sorted(r.planned_date for r in planned if r.elder_id == world.elder_id)
    assert (two_visits[1] - two_visits[0]).days >= 7
    # The tick leaves the batch's requests alone.
    assert await tick(app) == 0
    shown = (await client.get(f"/api/v1/plans/{month}", headers=world.operator)).json()
    assert shown["summary"] == again.json()["summary"]
    why = (await client.get(f"/api/v1/requests/{planned[0].id}/explanation", headers=world.operator)).json()
    assert why["decision"]["kind"] == "monthly_plan" and why["decision"]["provider_id"] in (
        world.provider_id,
        world.other_provider_id,
    )


async def test_plan_reports_elders_nobody_may_serve(client, token, db, app):
    world = await build_world(client, token)
    lonely = (
        await client.post(
            "/api/v1/elders",
            json=elder_body(area_code="460106001001", location={"lat": 20.04, "lon": 110.34}),
            headers=world.admin,
        )
    ).json()
    month = month_of(utcnow(), SETTINGS.tz)
    plan = (
        await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": month}, headers=world.admin)
    ).json()
    assert plan["summary"]["unassigned"] == [{"elder_id": lonely["id"], "visits": 2, "reason": "no_eligible_provider"}]
    assert plan["summary"]["shortfall_by_area"][0]["street"] == "460106001"
    async with db() as session:
        statuses = (
            await session.exec(select(ServiceRequest.status).where(ServiceRequest.elder_id == lonely["id"]))
        ).all()
    assert statuses == ["unassignable", "unassignable"]


async def test_plan_endpoints_reject_bad_input(client, token, db):
    admin, operator = await token("admin"), await token("operator")
    for month in ("2026-13", "26-01", "2026-1"):
        assert (await client.post("/api/v1/plans", json={"month": month}, headers=admin)).status_code == 422
        assert (await client.get(f"/api/v1/plans/{month}", headers=admin)).status_code == 422
    assert (await client.get("/api/v1/plans/2020-01", headers=admin)).status_code == 404
    assert (await client.post("/api/v1/plans", json={"month": "2026-12"}, headers=operator)).status_code == 403
    assert (await client.post("/api/v1/plans", json={"month": "2026-12"})).status_code == 401


async def test_plan_in_background_answers_202(client, token, db, app):
    admin = await token("admin")
    month = month_of(utcnow(), SETTINGS.tz)
    response = await client.post("/api/v1/plans", json={"month": month}, headers=admin)
    assert response.status_code == 202 and response.json()["month"] == month
    await asyncio.gather(*app.state.background)
    done = (await client.get(f"/api/v1/plans/{month}", headers=admin)).json()
    assert done["state"] == "done"


async def test_a_tick_gives_way_after_its_time_budget(client, token, db, app, monkeypatch):
    from service.dispatching import open_requests

    world = await build_world(client, token)
    for _ in range(3):
        await new_request(client, world)
    monkeypatch.setattr(open_requests, "TICK_BUDGET_S", 0.0)  # an emergency re-opened where nobody pokes
    monkeypatch.setattr(open_requests, "OFFER_BATCH", 1)
    tick = await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert (tick.offered, tick.unfinished) == (1, True)


async def test_a_dispatcher_sees_registry_changes_at_its_next_tick(client, token, db, app):
    """The dispatcher keeps the month's providers indexed between ticks, but never past a change."""
    from service.dispatching.open_requests import Registry

    world = await build_world(client, token)
    registry = Registry(SETTINGS)

    async def offered_to() -> int:
        request = await new_request(client, world)
        assert (await dispatch_open_requests(app.state.sessions, SETTINGS, registry=registry)).offered == 1
        detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
        return detail["assignments"][-1]["provider_id"]

    assert await offered_to() == world.provider_id  # the nearer one
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"status": "suspended"}, headers=world.admin)
    assert await offered_to() == world.other_provider_id
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"status": "active"}, headers=world.admin)
    far = [{"name": "远站", "location": {"lat": 25.2, "lon": 102.9}}]
    await client.patch(f"/api/v1/providers/{world.provider_id}", json={"stations": far}, headers=world.admin)
    assert await offered_to() == world.other_provider_id  # its only station moved out of reach
    nearest = (
        await client.post(
            "/api/v1/providers",
            json=provider_body(stations=[{"name": "门口站", "location": HOME}]),
            headers=world.admin,
        )
    ).json()
    assert await offered_to() == nearest["id"]
