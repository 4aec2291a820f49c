"""One poisoned row never stops the dispatch tick: it is set aside where operators see it, the rest go on."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.dispatching.open_requests import Registry, dispatch_open_requests
from service.lifecycle.models import QuotaUsage, ServiceRequest
from service.months import month_of
from service.settings import Settings
from tests.factories import elder_body
from tests.service.faults import poisoned_request, refusing, set_elder_services
from tests.service.helpers import build_world, new_request

pytestmark = pytest.mark.asyncio
SETTINGS = Settings()


async def statuses(db, ids) -> dict[int, tuple[str, dict | None]]:
    async with db() as session:
        rows = (
            await session.exec(
                select(ServiceRequest.id, ServiceRequest.status, ServiceRequest.explanation).where(
                    ServiceRequest.id.in_(ids)
                )
            )
        ).all()
    return {r.id: (r.status, r.explanation) for r in rows}


async def set_aside_events(db, request_id: int) -> list[dict]:
    async with db() as session:
        events = (
            await session.exec(
                select(AuditEvent).where(
                    AuditEvent.entity == "service_request",
                    AuditEvent.entity_id == str(request_id),
                    AuditEvent.action == "request.status",
                )
            )
        ).all()
    return [e.after for e in events]


async def test_poisoned_requests_are_set_aside_and_a_later_emergency_is_still_offered(client, token, db, app):
    world = await build_world(client, token)
    month = month_of(utcnow(), SETTINGS.tz)
    # "998-05" is what a window in the year 998 gave (strftime); the rest no calendar helper can hold either.
    bad_months = {
        m: await poisoned_request(db, world.elder_id, month=m) for m in ("998-05", "9999-12", "0000-01", "garbage")
    }
    ancient = await poisoned_request(db, world.elder_id, month="0998-05")  # a calendar month, nobody under contract
    no_services = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    await set_elder_services(db, no_services, None)
    empty = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    await set_elder_services(db, empty, [])
    planned = [
        await poisoned_request(
            db,
            elder,
            month=month,
            kind="planned",
            seq=1,
            channel="plan",
            service="clean",
            urgency="routine",
            attempts=1,
        )
        for elder in (no_services, empty)
    ]
    emergency = await new_request(client, world, service="emergency", urgency="emergency")

    tick = await dispatch_open_requests(app.state.sessions, SETTINGS)

    assert tick.offered == 1
    shown = await statuses(db, [emergency["id"], ancient, *bad_months.values(), *planned])
    assert shown[emergency["id"]][0] == "assigned"
    for request_id in bad_months.values():
        status, why = shown[request_id]
        assert status == "unassignable" and why["kind"] == "error" and why["reason"] == "bad_month", why
        assert {"status": "unassignable"}.items() <= (await set_aside_events(db, request_id))[-1].items()
    for request_id in planned:
        assert shown[request_id][0] == "unassignable" and shown[request_id][1]["reason"] == "bad_elder_services"
    assert shown[ancient][0] == "escalated"  # an emergency nobody may take: the escalation queue at once
    why = (await client.get(f"/api/v1/requests/{planned[0]}/explanation", headers=world.operator)).json()
    assert why["status"] == "unassignable" and why["decision"]["kind"] == "error"
    # Set aside for good: the next ticks find nothing to do and raise nothing.
    assert (await dispatch_open_requests(app.state.sessions, SETTINGS)).offered == 0


async def test_a_request_the_database_refuses_is_set_aside_and_its_batch_still_offered(client, token, db, app):
    world = await build_world(client, token)
    requests = [await new_request(client, world) for _ in range(3)]
    refused = requests[1]["id"]
    async with refusing(db, "assignment", f"NEW.request_id = {refused}"):
        tick = await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert tick.offered == 2
    shown = await statuses(db, [r["id"] for r in requests])
    assert [shown[r["id"]][0] for r in requests] == ["assigned", "unassignable", "assigned"]
    assert shown[refused][1] == {"kind": "error", "reason": "dispatch_failed", "detail": shown[refused][1]["detail"]}
    assert "refused" not in shown[refused][1]["detail"]  # the database's words are not the operators'
    async with db() as session:  # no quota unit was kept for the refused offer
        assert (await session.exec(select(func.sum(QuotaUsage.used)))).one() == 2


async def test_when_the_database_refuses_every_request_none_is_set_aside(client, token, db, app):
    """Not one row's fault: the tick fails (the dispatcher logs it and ticks again), nothing is marked."""
    world = await build_world(client, token)
    requests = [await new_request(client, world) for _ in range(2)]
    async with refusing(db, "assignment", "1 = 1"):
        with pytest.raises(Exception, match="refused"):
            await dispatch_open_requests(app.state.sessions, SETTINGS)
    assert [s for s, _ in (await statuses(db, [r["id"] for r in requests])).values()] == ["open", "open"]
    assert (await dispatch_open_requests(app.state.sessions, SETTINGS)).offered == 2


async def test_a_request_that_cannot_even_be_set_aside_is_passed_by(client, token, db, app, monkeypatch):
    from service.dispatching import faults, open_requests

    world = await build_world(client, token)
    poisoned = await poisoned_request(db, world.elder_id, month="9999-12")
    original = faults.set_aside

    async def refuse_to_mark(session, request_ids, exc, **kw):
        if poisoned in request_ids:
            raise ValueError("cannot be written")
        return await original(session, request_ids, exc, **kw)

    monkeypatch.setattr(open_requests.faults, "set_aside", refuse_to_mark)
    monkeypatch.setattr(open_requests, "TICK_BATCH", 1)  # the poisoned row alone fills a tick's selection
    registry = Registry(SETTINGS)
    await dispatch_open_requests(app.state.sessions, SETTINGS, registry=registry)
    assert registry.passed_by == {poisoned}
    later = await new_request(client, world, service="emergency", urgency="emergency")
    assert (await dispatch_open_requests(app.state.sessions, SETTINGS, registry=registry)).offered == 1
    assert (await statuses(db, [later["id"]]))[later["id"]][0] == "assigned"


async def test_the_dispatcher_offers_an_emergency_past_the_issues_poisoned_request(
    client, token, db, app, settings, caplog
):
    """The issue's reproduction: a request whose window is in the year 998, then an emergency."""
    from service.scheduler import Dispatcher
    from tests.service.test_scheduler import dispatcher_of, status_within

    world = await build_world(client, token)
    poisoned = await poisoned_request(db, world.elder_id, month="998-05", service="health", urgency="routine")
    with dispatcher_of(app, Dispatcher(app.state.sessions, settings)):
        emergency = await new_request(client, world, service="emergency", urgency="emergency")
        assert await status_within(client, world, emergency["id"], "assigned", seconds=5) == "assigned"
    assert (await statuses(db, [poisoned]))[poisoned][0] == "unassignable"
    assert "dispatch tick failed" not in caplog.text
    assert f"request {poisoned} failed and was set aside (bad_month" in caplog.text
