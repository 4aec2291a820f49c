"""Issue 12, item 9: a check-in never precedes its request, response times are never negative, and the
monthly summary counts the elders served by category (80+, 100+, living alone), as Haikou publishes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.db import utcnow
from service.lifecycle.models import ServiceRequest
from service.months import month_of
from service.quality.service import emergency_on_time
from service.settings import Settings
from tests.factories import elder_body, id_number
from tests.service.helpers import accepted_assignment, ago, build_world, check_in_body, check_out_body
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
MONTHLY = "/api/v1/reports/monthly"


async def test_a_check_in_before_its_request_was_made_is_refused(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world, urgency="emergency", service="emergency")
    async with db() as session:  # the call came in a minute ago
        await session.exec(
            update(ServiceRequest).where(ServiceRequest.id == request["id"]).values(created_at=ago(minutes=1))
        )
        await session.commit()
    early = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, ago(minutes=70)), headers=world.provider
    )
    assert early.status_code == 422 and problem_fields(early) == ["check_in.at"], early.text
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "accepted" and detail["visit"] is None  # nothing written
    batch = await client.post(
        "/api/v1/provider/visits:batch",
        headers=world.provider,
        json={"visits": [check_in_body(assignment_id, ago(minutes=70))]},
    )
    assert batch.json()["results"][0]["error"]["status"] == 422
    on_time = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, utcnow()), headers=world.provider
    )
    assert on_time.status_code == 201, on_time.text


async def test_a_check_in_stored_before_its_request_counts_as_no_answer(client, token, db, settings):
    # Rows stored before the rule: the caregiver "arrived" 69.7 minutes before the call was made.
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world, urgency="emergency", service="emergency")
    arrived = ago(minutes=80)
    started = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, arrived), headers=world.provider
    )
    assert started.status_code == 201, started.text
    async with db() as session:
        await session.exec(
            update(ServiceRequest)
            .where(ServiceRequest.id == request["id"])
            .values(created_at=arrived + timedelta(minutes=69.7))
        )
        await session.commit()
    month = month_of(utcnow(), settings.tz)
    summary = (
        await client.get(MONTHLY, params={"month": month, "area": "530111"}, headers=await token("admin"))
    ).json()
    assert summary["emergencies"]["requests"] == 1 and summary["emergencies"]["answered"] == 0
    assert summary["emergencies"]["response_p50_minutes"] is None  # never -69.7
    async with db() as session:
        assert await emergency_on_time(session, month, Settings()) == {}  # not "on time" either


async def test_the_summary_counts_the_elders_served_by_category(client, token, db, settings):
    world = await build_world(client, token, id_number=id_number(born="19400101"), living_alone=True)
    admin = world.admin
    await client.post(
        f"/api/v1/elders/{world.elder_id}/categories",
        headers=admin,
        json={"category": "dibao", "since": "2020-01-01", "source": "低保名册"},
    )
    # Another elder, 60-something, not served: counted in the category, not among the served.
    young = (
        await client.post("/api/v1/elders", headers=admin, json=elder_body(id_number=id_number(born="19600101")))
    ).json()
    await client.post(
        f"/api/v1/elders/{young['id']}/categories",
        headers=admin,
        json={"category": "dibao", "since": "2020-01-01", "source": "低保名册"},
    )
    _, assignment_id = await accepted_assignment(client, db, world)
    started = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, ago(minutes=75)), headers=world.provider
    )
    ended = await client.post(
        f"/api/v1/provider/visits/{started.json()['id']}/check-out",
        json=check_out_body(ago(minutes=5)),
        headers=world.provider,
    )
    assert ended.json()["verification"]["status"] == "verified", ended.text
    month = month_of(utcnow(), settings.tz)
    summary = (await client.get(MONTHLY, params={"month": month, "area": "530111"}, headers=admin)).json()
    groups = summary["elder_groups"]
    assert (groups["aged_80_served"], groups["aged_100_served"], groups["living_alone_served"]) == (1, 0, 1)
    by = {c["category"]: (c["elders"], c["served"]) for c in groups["by_category"]}
    assert by["dibao"] == (2, 1) and by["aged_80"] == (1, 1) and by["living_alone"] == (1, 1)
    assert by["tekun"] == (0, 0) and by["aged_100"] == (0, 0)
    sheet = await client.get(MONTHLY, params={"month": month, "area": "530111", "format": "xlsx"}, headers=admin)
    assert sheet.status_code == 200
