"""The monthly plan: one bad elder never fails it, failures read as plain words, each run answers with its
own record, and only the current or the next month unless an admin forces a past one."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import update
from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.dispatching.models import DispatchPlan
from service.dispatching.plans import claim_plan
from service.lifecycle.models import ServiceRequest
from service.months import month_of, next_month, previous_month
from service.scheduler import Jobs
from tests.factories import elder_body
from tests.service.faults import poisoned_request, refusing, set_elder_services
from tests.service.helpers import build_world

pytestmark = pytest.mark.asyncio
PLANS = "/api/v1/plans"


def this_month(settings) -> str:
    return month_of(utcnow(), settings.tz)


async def plan_now(client, admin, month: str, **body) -> dict:
    response = await client.post(PLANS, params={"wait": "true"}, json={"month": month, **body}, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


async def planned_statuses(db, elder_id: int) -> list[tuple[str, dict | None]]:
    async with db() as session:
        rows = (
            await session.exec(
                select(ServiceRequest).where(ServiceRequest.elder_id == elder_id, ServiceRequest.kind == "planned")
            )
        ).all()
    return [(r.status, r.explanation) for r in rows]


async def test_elders_with_unusable_data_are_set_aside_and_the_others_planned(client, token, db, settings):
    world = await build_world(client, token)
    month = this_month(settings)
    ids = {}
    for name, services in (("no_services", None), ("empty", []), ("unknown", ["飞行"])):
        ids[name] = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
        await set_elder_services(db, ids[name], services)
    # An elder whose planned request was made before its data went bad; one with weekdays gone bad.
    ids["went_bad"] = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    await poisoned_request(
        db, ids["went_bad"], month=month, kind="planned", seq=1, channel="plan", service="clean", urgency="routine"
    )
    await set_elder_services(db, ids["went_bad"], "clean")
    ids["weekdays"] = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    async with db() as session:
        from service.elders.models import Elder

        await session.exec(update(Elder).where(Elder.id == ids["weekdays"]).values(preferred_weekdays=["周一"]))
        await session.commit()

    plan = await plan_now(client, world.admin, month)

    assert plan["state"] == "done" and plan["error"] is None
    summary = plan["summary"]
    assert summary["elders_set_aside"] == sorted(
        [
            {"elder_id": ids["no_services"], "reason": "bad_elder_services"},
            {"elder_id": ids["empty"], "reason": "bad_elder_services"},
            {"elder_id": ids["unknown"], "reason": "bad_elder_services"},
            {"elder_id": ids["went_bad"], "reason": "bad_elder_services"},
            {"elder_id": ids["weekdays"], "reason": "bad_elder_weekdays"},
        ],
        key=lambda e: e["elder_id"],
    )
    assert summary["visits_offered"] == 2  # the world's elder, two visits
    assert [s for s, _ in await planned_statuses(db, world.elder_id)] == ["assigned", "assigned"]
    assert await planned_statuses(db, ids["no_services"]) == []  # no request could name its service
    [(status, why)] = await planned_statuses(db, ids["went_bad"])
    assert status == "unassignable" and why["kind"] == "error" and why["reason"] == "bad_elder_services"
    assert {s for s, _ in await planned_statuses(db, ids["weekdays"])} == {"unassignable"}


async def test_an_elder_whose_offers_the_database_refuses_is_set_aside_by_the_scheduled_plan(
    client, token, db, app, settings
):
    world = await build_world(client, token)
    other = (await client.post("/api/v1/elders", json=elder_body(name="王秀英"), headers=world.admin)).json()["id"]
    refused = f"NEW.request_id IN (SELECT id FROM service_request WHERE elder_id = {other})"
    async with refusing(db, "assignment", refused):
        await Jobs(app.state.sessions, settings, dispatcher=None).plan_this_month()
    async with db() as session:
        plan = await session.get(DispatchPlan, this_month(settings))
    assert plan.state == "done", plan.error
    assert plan.summary["elders_set_aside"] == [{"elder_id": other, "reason": "dispatch_failed"}]
    assert plan.summary["visits_offered"] == 2
    assert {s for s, _ in await planned_statuses(db, other)} == {"unassignable"}
    assert [s for s, _ in await planned_statuses(db, world.elder_id)] == ["assigned", "assigned"]


async def test_a_failed_plan_tells_operators_in_plain_words(client, token, db, settings, monkeypatch, caplog):
    from service.dispatching import plans

    def broken(document):
        raise RuntimeError("SELECT elder.name, elder.id_number FROM elder WHERE id = 15 -- 张桂英")

    monkeypatch.setattr(plans, "plan_month", broken)
    world = await build_world(client, token)
    month = this_month(settings)
    plan = await plan_now(client, world.admin, month)
    shown = (await client.get(f"{PLANS}/{month}", headers=world.operator)).json()
    assert plan["state"] == shown["state"] == "failed" and shown["error"] == plan["error"]
    assert shown["error"].startswith("The plan stopped before it finished (reference ")
    for secret in ("SELECT", "张桂英", "id_number"):
        assert secret not in shown["error"] and secret not in caplog.text
    assert "RuntimeError" not in shown["error"] and "RuntimeError" in caplog.text  # the log says what failed
    reference = shown["error"].split("reference ")[1][:8]
    assert reference in caplog.text  # the log line with the detail is found by it
    # A record written before this fix, holding the exception's text, is shown in plain words too.
    async with db() as session:
        await session.exec(update(DispatchPlan).values(error="ProgrammingError: INSERT INTO service_request …"))
        await session.commit()
    shown = (await client.get(f"{PLANS}/{month}", headers=world.operator)).json()
    assert "INSERT" not in shown["error"] and shown["error"].startswith("The plan stopped before it finished")


async def test_a_rerun_answers_with_its_own_record(client, token, db, app, settings):
    world = await build_world(client, token)
    month = this_month(settings)
    first = await plan_now(client, world.admin, month)
    response = await client.post(PLANS, json={"month": month}, headers=world.admin)
    assert response.status_code == 202
    rerun = response.json()
    assert rerun["state"] == "running" and rerun["finished_at"] is None and rerun["error"] is None
    assert datetime.fromisoformat(rerun["started_at"]) > datetime.fromisoformat(first["finished_at"])
    await asyncio.gather(*app.state.background)
    done = (await client.get(f"{PLANS}/{month}", headers=world.admin)).json()
    assert done["state"] == "done" and done["started_at"] == rerun["started_at"]


async def test_a_month_already_being_planned_is_a_conflict(client, token, db, settings):
    admin = await token("admin")
    month = this_month(settings)
    assert await claim_plan(db, month) is not None
    for params in ({}, {"wait": "true"}):
        response = await client.post(PLANS, params=params, json={"month": month}, headers=admin)
        assert response.status_code == 409 and "already running" in response.json()["detail"]


async def test_plans_only_for_this_month_or_the_next_unless_an_admin_forces_a_past_one(client, token, db, settings):
    world = await build_world(client, token)
    month = this_month(settings)
    past, too_far = previous_month(month), next_month(next_month(month))
    for body in ({"month": past}, {"month": too_far}, {"month": too_far, "force": True}):
        response = await client.post(PLANS, json=body, headers=world.admin)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == "month"
    assert "force" in (await client.post(PLANS, json={"month": past}, headers=world.admin)).json()["detail"]
    async with db() as session:  # nothing written on refusal
        assert (await session.exec(select(DispatchPlan))).all() == []
        assert (await session.exec(select(ServiceRequest))).all() == []
    assert (await client.post(PLANS, json={"month": past, "force": True}, headers=world.operator)).status_code == 403
    forced = await plan_now(client, world.admin, past, force=True)
    assert forced["state"] == "done"
    upcoming = await plan_now(client, world.admin, next_month(month))
    assert upcoming["state"] == "done"
    async with db() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "plan.forced"))).all()
    assert [(e.entity_id, e.after) for e in events] == [(past, {"month": past, "force": True})]
    assert events[0].actor.startswith("token:") or events[0].actor


async def test_an_elder_whose_entitlement_was_withdrawn_after_planning_is_set_aside(client, token, db, settings):
    from service.elders.models import Elder

    world = await build_world(client, token)
    month = this_month(settings)
    withdrawn = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    await poisoned_request(
        db, withdrawn, month=month, kind="planned", seq=1, channel="plan", service="clean", urgency="routine"
    )
    async with db() as session:  # the engine refuses an elder with no visits: the whole plan used to fail
        await session.exec(update(Elder).where(Elder.id == withdrawn).values(visits_per_month=0))
        await session.commit()

    plan = await plan_now(client, world.admin, month)

    assert plan["state"] == "done" and plan["error"] is None
    assert plan["summary"]["elders_set_aside"] == [{"elder_id": withdrawn, "reason": "no_entitlement"}]
    assert plan["summary"]["visits_offered"] == 2
    assert {s for s, _ in await planned_statuses(db, withdrawn)} == {"unassignable"}
