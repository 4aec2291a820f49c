"""The lifecycle's moves on a real database where one move now serves two callers: withdrawing a live
offer gives its quota unit back whether an operator cancelled the request or its month ended unvisited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from service.db import utcnow
from service.dispatching import sweeps
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.lifecycle.moves import MISSED_REASON
from service.months import month_of, previous_month
from tests.service.faults import poisoned_request
from tests.service.helpers import build_world, new_request, offer_to

pytestmark = pytest.mark.asyncio


async def used(db, provider_id: int, month: str) -> int:
    async with db() as session:
        row = await session.get(QuotaUsage, (provider_id, month))
        return row.used if row else 0


async def test_a_visit_its_month_ended_without_withdraws_its_offer_and_gives_the_unit_back(client, token, db, settings):
    world = await build_world(client, token)
    last_month = previous_month(month_of(utcnow(), settings.tz))
    request_id = await poisoned_request(
        db, world.elder_id, month=last_month, kind="planned", seq=1, channel="plan", service="clean", urgency="routine"
    )
    assignment_id = await offer_to(db, request_id, world.provider_id)
    assert await used(db, world.provider_id, last_month) == 1
    assert await sweeps.mark_missed(db, last_month, now=utcnow()) == 1
    async with db() as session:
        request = await session.get(ServiceRequest, request_id)
        assignment = await session.get(Assignment, assignment_id)
    assert (request.status, assignment.status, assignment.reason) == ("missed", "cancelled", MISSED_REASON)
    assert await used(db, world.provider_id, last_month) == 0
    assert await sweeps.mark_missed(db, last_month, now=utcnow()) == 0  # safe to run twice


async def test_a_cancelled_request_withdraws_its_offer_and_gives_the_unit_back(client, token, db):
    world = await build_world(client, token)
    request = await new_request(client, world)
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    assert await used(db, world.provider_id, request["month"]) == 1
    response = await client.post(
        f"/api/v1/requests/{request['id']}/cancel", json={"reason": "家属已送医"}, headers=world.operator
    )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    async with db() as session:
        assert (
            await session.exec(select(Assignment.status).where(Assignment.id == assignment_id))
        ).one() == "cancelled"
    assert await used(db, world.provider_id, request["month"]) == 0
