"""Every scheduled job goes on past a row that fails for its own sake: that row is logged, marked and
passed by, the others are swept; nothing raises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.dispatching import sweeps
from service.idempotency.models import IdempotencyRecord
from service.idempotency.service import KEPT_FOR
from service.lifecycle.models import Assignment, ServiceRequest
from service.months import month_of, previous_month
from service.scheduler import Jobs
from service.visits.models import Visit
from tests.factories import elder_body
from tests.reports.month import build_october
from tests.service.faults import poisoned_request, refusing
from tests.service.helpers import accepted_assignment, ago, build_world, check_in_body, new_request, offer_to

pytestmark = pytest.mark.asyncio


class Untouched:
    def poke(self, emergency: bool = False) -> None:
        pass


async def row_failures(db, entity: str) -> list[str]:
    async with db() as session:
        events = (
            await session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "job.row_failed", AuditEvent.entity == entity)
                .order_by(AuditEvent.id)
            )
        ).all()
    return [e.entity_id for e in events]


async def request_state(db, request_id: int) -> tuple[str, dict | None]:
    async with db() as session:
        row = await session.get(ServiceRequest, request_id)
        return row.status, row.explanation


async def test_offer_expiry_sets_a_failing_offers_request_aside_and_expires_the_rest(client, token, db, app, settings):
    world = await build_world(client, token)
    requests = [await new_request(client, world) for _ in range(3)]
    assignments = [await offer_to(db, r["id"], world.provider_id) for r in requests]
    async with db() as session:
        await session.exec(update(Assignment).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    bad = assignments[1]
    jobs = Jobs(app.state.sessions, settings, Untouched())
    async with refusing(db, "audit_event", f"NEW.action = 'assignment.expired' AND NEW.entity_id = '{bad}'"):
        await jobs.expire_offers()
    states = [await request_state(db, r["id"]) for r in requests]
    assert [s for s, _ in states] == ["open", "unassignable", "open"]
    assert states[1][1]["kind"] == "error"
    assert await row_failures(db, "assignment") == [str(bad)]
    await jobs.expire_offers()  # passed by from then on: not tried, not marked again
    assert await row_failures(db, "assignment") == [str(bad)]


async def test_closing_a_month_marks_the_rest_missed_past_a_failing_request(client, token, db, app, settings):
    world = await build_world(client, token)
    last_month = previous_month(month_of(utcnow(), settings.tz))
    other = (await client.post("/api/v1/elders", json=elder_body(), headers=world.admin)).json()["id"]
    planned = [
        await poisoned_request(
            db, elder, month=last_month, kind="planned", seq=1, channel="plan", service="clean", urgency="routine"
        )
        for elder in (world.elder_id, other)
    ]
    jobs = Jobs(app.state.sessions, settings, Untouched())
    async with refusing(db, "service_request", f"NEW.status = 'missed' AND NEW.id = {planned[0]}", on="UPDATE"):
        await jobs.close_last_month()
    assert (await request_state(db, planned[0]))[0] == "unassignable"
    assert (await request_state(db, planned[1]))[0] == "missed"
    assert await row_failures(db, "service_request") == [str(planned[0])]


async def test_the_missing_check_out_sweep_flags_the_rest_past_a_failing_visit(client, token, db, app, settings):
    world = await build_world(client, token)
    visits = []
    for caregiver in ("李护理员", "王护理员"):
        _, assignment_id = await accepted_assignment(client, db, world, caregiver=caregiver)
        response = await client.post(
            "/api/v1/provider/visits", json=check_in_body(assignment_id, ago(hours=13)), headers=world.provider
        )
        assert response.status_code == 201, response.text
        visits.append(response.json()["id"])
    jobs = Jobs(app.state.sessions, settings, Untouched())
    async with refusing(db, "visit", f"NEW.status = 'exception' AND NEW.id = {visits[0]}", on="UPDATE"):
        await jobs.sweep_check_outs()
    async with db() as session:
        shown = dict((await session.exec(select(Visit.id, Visit.status))).all())
    assert shown == {visits[0]: "in_progress", visits[1]: "exception"}
    assert await row_failures(db, "visit") == [str(visits[0])]


async def test_forgetting_idempotency_keys_goes_on_past_one_that_cannot_be_deleted(client, token, db):
    admin = await token("admin")
    for key in ("kept-by-the-database", "forgotten"):
        headers = {**admin, "Idempotency-Key": key}
        assert (await client.post("/api/v1/elders", json=elder_body(), headers=headers)).status_code == 201
    skip: set[int] = set()
    later = utcnow() + KEPT_FOR + timedelta(minutes=1)
    refused = refusing(db, "idempotency_record", "OLD.key = 'kept-by-the-database'", on="DELETE")
    async with refused:
        assert await sweeps.forget_idempotency_keys(db, now=later, skip=skip) == 1
    async with db() as session:
        assert (await session.exec(select(IdempotencyRecord.key))).all() == ["kept-by-the-database"]
    assert await sweeps.forget_idempotency_keys(db, now=later, skip=skip) == 0  # passed by
    assert len(skip) == 1 and await row_failures(db, "idempotency_key") == [str(next(iter(skip)))]


async def test_quality_assessment_scores_the_others_past_a_failing_provider(client, token, db):
    october = await build_october(db)
    failing = october.providers["新苗"]
    admin = await token("admin")
    async with refusing(db, "provider_quality", f"NEW.provider_id = {failing}"):
        response = await client.post("/api/v1/quality/assessments", json={"month": "2026-10"}, headers=admin)
    assert response.status_code == 200, response.text
    assert {q["provider_id"] for q in response.json()} == {october.providers["康乐"], october.providers["椰城"]}
    assert await row_failures(db, "provider") == [str(failing)]
