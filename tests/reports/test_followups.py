"""Follow-up calls (回访) and the queue that says whom to call first."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from service.audit.models import AuditEvent
from service.followups.queue import new_since
from service.providers.models import Provider
from service.settings import Settings
from service.visits.models import FollowUp
from tests.reports.month import MONTH, build_october

QUEUE = "/api/v1/follow-ups/queue"


def follow_up(visit_id: int) -> str:
    return f"/api/v1/visits/{visit_id}/follow-up"


async def test_an_operator_records_one_follow_up_per_visit(client, token, db):
    october = await build_october(db)
    operator = await token("operator")
    visit_id = october.visits["v4"]
    created = await client.post(
        follow_up(visit_id), json={"satisfaction": 1, "complaint": "  没见到人  "}, headers=operator
    )
    assert created.status_code == 201, created.text
    assert created.json()["satisfaction"] == 1 and created.json()["complaint"] == "没见到人"
    assert created.json()["created_by"] == "operator:test-operator"
    again = await client.post(follow_up(visit_id), json={"satisfaction": 5}, headers=operator)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    async with db() as session:
        assert len((await session.exec(select(FollowUp).where(FollowUp.visit_id == visit_id))).all()) == 1
        event = (await session.exec(select(AuditEvent).where(AuditEvent.action == "follow_up.create"))).one()
        assert event.actor == "operator:test-operator" and event.entity_id == str(visit_id)
        assert event.after == {"satisfaction": 1, "complaint": True}


async def test_the_same_idempotency_key_replays_the_first_answer(client, token, db):
    october = await build_october(db)
    headers = {**await token("operator"), "Idempotency-Key": "call-0001"}
    first = await client.post(follow_up(october.visits["v6"]), json={"satisfaction": 4}, headers=headers)
    replay = await client.post(follow_up(october.visits["v6"]), json={"satisfaction": 4}, headers=headers)
    assert first.status_code == replay.status_code == 201 and first.json() == replay.json()
    other = await client.post(follow_up(october.visits["v6"]), json={"satisfaction": 3}, headers=headers)
    assert other.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"satisfaction": 0},
        {"satisfaction": 6},
        {},
        {"satisfaction": "good"},
        {"satisfaction": 3, "complaint": "x" * 1001},
        {"satisfaction": 3, "mood": "ok"},
    ],
)
async def test_bad_follow_ups_are_422(client, token, db, body):
    october = await build_october(db)
    response = await client.post(follow_up(october.visits["v6"]), json=body, headers=await token("operator"))
    assert response.status_code == 422 and response.json()["errors"], response.text


async def test_follow_up_refusals(client, token, db):
    october = await build_october(db)
    operator = await token("operator")
    missing = await client.post(follow_up(99999), json={"satisfaction": 3}, headers=operator)
    assert missing.status_code == 404
    assert (
        await client.post(follow_up(october.visits["v8"]), json={"satisfaction": 3}, headers=operator)
    ).status_code == 409  # the caregiver is still there
    assert (await client.post(follow_up(october.visits["v6"]), json={"satisfaction": 3})).status_code == 401
    for role, extra in (
        ("regulator", {"area_code": "530111"}),
        ("provider", {"provider_id": october.providers["康乐"]}),
    ):
        response = await client.post(
            follow_up(october.visits["v6"]), json={"satisfaction": 3}, headers=await token(role, **extra)
        )
        assert response.status_code == 403, role


def test_a_provider_is_new_for_its_first_months():
    assert new_since("2026-10", 3) == date(2026, 8, 1) and new_since("2026-01", 1) == date(2026, 1, 1)
    assert new_since("2026-02", 3) == date(2025, 12, 1)


async def ask_queue(app, client, headers, *, sample_rate: float, **params) -> dict:
    original = app.state.settings
    app.state.settings = Settings(database_url=original.database_url, follow_up_sample_rate=sample_rate)
    try:
        response = await client.get(QUEUE, params={"month": MONTH, **params}, headers=headers)
    finally:
        app.state.settings = original
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_queue_puts_exceptions_first_then_new_providers_then_a_sample(app, client, token, db):
    october = await build_october(db)
    operator = await token("operator")
    # Not yet called: v4 (exception), v6 and v7 (康乐's emergencies); v8 is still in progress.
    queue = await ask_queue(app, client, operator, sample_rate=0)
    assert [(i["visit_id"], i["risk"]) for i in queue["items"]] == [(october.visits["v4"], "exception")]
    assert queue["items"][0]["elder"]["phone"].isdigit()  # operators make the call: the number is whole
    everyone = await ask_queue(app, client, operator, sample_rate=1, area="530111")
    assert [i["risk"] for i in everyone["items"]] == ["exception", "sample", "sample"]
    assert {i["visit_id"] for i in everyone["items"][1:]} == {october.visits["v6"], october.visits["v7"]}
    async with db() as session:  # 康乐 joined last month: its visits join the queue as a new provider's
        provider = await session.get(Provider, october.providers["康乐"])
        provider.contract_start = date(2026, 10, 1)
        await session.commit()
    queue = await ask_queue(app, client, operator, sample_rate=0, area="530111")
    assert [i["risk"] for i in queue["items"]] == ["exception", "new_provider", "new_provider"]
    paged, cursor = [], None
    while True:
        page = await ask_queue(
            app, client, operator, sample_rate=0, area="530111", limit=1, **({"cursor": cursor} if cursor else {})
        )
        paged += [i["visit_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [i["visit_id"] for i in queue["items"]]
    called = await client.post(follow_up(october.visits["v4"]), json={"satisfaction": 2}, headers=operator)
    assert called.status_code == 201
    queue = await ask_queue(app, client, operator, sample_rate=0, area="530111")
    assert october.visits["v4"] not in {i["visit_id"] for i in queue["items"]}


async def test_the_sample_is_a_fixed_share_of_ordinary_visits(app, client, token, db):
    await build_october(db)
    operator = await token("operator")
    first = await ask_queue(app, client, operator, sample_rate=0.5)
    assert first == await ask_queue(app, client, operator, sample_rate=0.5)  # the same draw every time
    regulator = await token("regulator", area_code="530111")
    assert (await client.get(QUEUE, params={"month": MONTH}, headers=regulator)).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"area": "53"},
        {"area": "999999"},
        {"limit": 0},
        {"limit": 501},
        {"cursor": "not-a-cursor"},
    ],
)
async def test_bad_queue_parameters_are_422(client, token, db, params):
    response = await client.get(QUEUE, params=params, headers=await token("operator"))
    assert response.status_code == 422, response.text
