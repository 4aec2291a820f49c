"""Provider quality: the score, suspension after two low months running, and reinstatement."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.dispatching.world import eligible_providers
from service.months import month_of
from service.quality.scoring import ProviderMonth, low_run, quality_score
from tests.reports.month import Builder, build_october, local

ASSESS = "/api/v1/quality/assessments"


def test_scores_by_hand():
    # 新苗 in October: nothing verified, both visits exceptions, one call at 2/5, no emergencies.
    assert quality_score(ProviderMonth(2, 0, 2, 1, 2, 0, 0)) == 7.4  # 100 × (.25 × .25) / .85
    # 康乐: 4 of 5 verified, no exceptions, calls at 5 and 4, one of two emergencies within 30 minutes.
    assert quality_score(ProviderMonth(5, 4, 0, 2, 9, 2, 1)) == 81.4  # .32 + .2 + .21875 + .075
    assert quality_score(ProviderMonth(3, 3, 0, 0, 0, 0, 0)) == 100.0  # no calls or emergencies: no penalty
    assert quality_score(ProviderMonth(0, 0, 0, 0, 0, 0, 0)) is None


@pytest.mark.parametrize(
    ("below", "previous_run", "previous_suspended", "expected"),
    [(False, 3, False, 0), (True, 0, False, 1), (True, 1, False, 2), (True, 2, True, 1)],
)
def test_low_runs(below, previous_run, previous_suspended, expected):
    assert low_run(below, previous_run, previous_suspended) == expected


async def _low_september(db, october) -> None:
    async with db() as session:
        builder = Builder(session)
        request = await builder.request(october.elders["李秀兰"], "2026-09", seq=1)
        await builder.visit(
            request, october.providers["新苗"], local("09-20", "10:00"), 30, "exception", ("short_duration",)
        )
        await session.commit()


async def test_two_low_months_running_suspend_a_provider_once(client, token, db, settings):
    october = await build_october(db)
    await _low_september(db, october)
    admin = await token("admin")
    xinmiao = october.providers["新苗"]
    september = (await client.post(ASSESS, json={"month": "2026-09"}, headers=admin)).json()
    assert [(q["provider_id"], q["score"], q["low_run"], q["suspended"]) for q in september] == [
        (october.providers["康乐"], 100.0, 0, False),
        (xinmiao, 0.0, 1, False),
    ]
    response = await client.post(ASSESS, json={"month": "2026-10"}, headers=admin)
    assert response.status_code == 200, response.text
    scores = {q["provider_id"]: q for q in response.json()}
    assert [scores[xinmiao][k] for k in ("score", "low_run", "suspended")] == [7.4, 2, True]
    assert scores[xinmiao]["provider_status"] == "suspended"
    assert not scores[october.providers["康乐"]]["suspended"]
    assert scores[october.providers["椰城"]]["score"] == 100.0
    async with db() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "provider.suspend"))).all()
        assert [(e.entity_id, e.actor) for e in events] == [(str(xinmiao), "system:quality")]
        assert events[0].after["scores"] == [0.0, 7.4] and events[0].before == {"status": "active"}
        assert xinmiao not in {p.id for p in await eligible_providers(session, date(2026, 12, 1))}

    reinstate = f"/api/v1/providers/{xinmiao}/reinstate"
    reinstated = await client.post(reinstate, json={"reason": "整改完成"}, headers=admin)
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    reassessed = await client.post(ASSESS, json={"month": "2026-10"}, headers=admin)
    again = {q["provider_id"]: q for q in reassessed.json()}
    assert again[xinmiao]["provider_status"] == "active"  # re-assessing October does not suspend twice
    async with db() as session:
        history = await session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == "provider", AuditEvent.entity_id == str(xinmiao))
            .order_by(AuditEvent.id)
        )
        actions = [e.action for e in history.all()]
        assert actions == ["provider.suspend", "provider.reinstate"]
    assert (await client.post(reinstate, json={"reason": "again"}, headers=admin)).status_code == 409


async def test_assessment_refusals(client, token, db, settings):
    october = await build_october(db)
    admin = await token("admin")
    this_month = month_of(utcnow(), settings.tz)
    assert (await client.post(ASSESS, json={"month": this_month}, headers=admin)).status_code == 409
    for body in ({"month": "2026-13"}, {}, {"month": "2026-10", "x": 1}):
        assert (await client.post(ASSESS, json=body, headers=admin)).status_code == 422
    regulator = await token("regulator", area_code="530111")
    assert (await client.post(ASSESS, json={"month": "2026-10"}, headers=regulator)).status_code == 403
    assert (await client.post(ASSESS, json={"month": "2026-10"})).status_code == 401
    reinstate = f"/api/v1/providers/{october.providers['康乐']}/reinstate"
    assert (await client.post(reinstate, json={"reason": "x"}, headers=regulator)).status_code == 403
    assert (await client.post(reinstate, json={}, headers=admin)).status_code == 422
    missing = await client.post("/api/v1/providers/99999/reinstate", json={"reason": "x"}, headers=admin)
    assert missing.status_code == 404


async def test_a_regulator_reads_the_scores_of_providers_in_its_area(client, token, db):
    october = await build_october(db)
    await client.post(ASSESS, json={"month": "2026-10"}, headers=await token("admin"))
    guandu = (
        await client.get(
            "/api/v1/quality", params={"month": "2026-10"}, headers=await token("regulator", area_code="530111001")
        )
    ).json()
    assert [q["provider_id"] for q in guandu] == [october.providers[n] for n in ("新苗", "康乐")]  # lowest first
    haikou = (
        await client.get(
            "/api/v1/quality", params={"month": "2026-10"}, headers=await token("regulator", area_code="460106")
        )
    ).json()
    assert [q["provider_name"] for q in haikou] == ["椰城关爱"]
    assert (
        await client.get("/api/v1/quality", params={"month": "10-2026"}, headers=await token("admin"))
    ).status_code == 422
    assert (
        await client.get("/api/v1/quality", params={"month": "2026-10"}, headers=await token("operator"))
    ).status_code == 403
