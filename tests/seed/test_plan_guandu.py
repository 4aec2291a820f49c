"""The monthly plan of the whole Guandu district: about 4,500 planned requests of 12 columns, more bind
parameters than one PostgreSQL statement may carry (32,767), so they are written in several."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from seed.load import load_world
from service.db import utcnow
from service.lifecycle.models import Assignment, ServiceRequest
from service.months import month_of

pytestmark = pytest.mark.asyncio


async def test_the_month_plan_of_all_guandu(client, token, db, guandu, settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the limit bit on PostgreSQL; on SQLite the plan's rows go by executemany (the other tests)")
    await load_world(db, guandu)
    admin = await token("admin")
    month = month_of(utcnow(), settings.tz)
    response = await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": month}, headers=admin)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["state"] == "done", plan["error"]
    summary = plan["summary"]
    visits = sum(e.visits_per_month for e in guandu.elders)
    assert summary["planned_requests"] == visits and visits * 12 > 32_767
    assert summary["elders_planned"] == len(guandu.elders) and summary["elders_set_aside"] == []
    async with db() as session:
        requests = (await session.exec(select(func.count()).select_from(ServiceRequest))).one()
        offered = (await session.exec(select(func.count()).select_from(Assignment))).one()
    assert requests == visits
    assert offered == summary["visits_offered"] == summary["visits_assigned"] > 0.9 * visits
