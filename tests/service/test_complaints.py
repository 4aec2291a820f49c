"""Complaint tickets: opened by operators (with or without a visit) or from a follow-up, answered by the
provider's app (own only), resolved by an operator, read by the area's regulator, counted in quality."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.quality.scoring import ProviderMonth, quality_score
from tests.factories import elder_body
from tests.service.helpers import accepted_assignment, ago, build_world, check_in_body, check_out_body
from tests.service.hostile import row_counts
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
API = "/api/v1"


async def finished_visit(client, db, world) -> int:
    _, assignment_id = await accepted_assignment(client, db, world)
    started = await client.post(
        f"{API}/provider/visits", json=check_in_body(assignment_id, ago(minutes=70)), headers=world.provider
    )
    assert started.status_code == 201, started.text
    visit_id = started.json()["id"]
    ended = await client.post(
        f"{API}/provider/visits/{visit_id}/check-out", json=check_out_body(ago(minutes=5)), headers=world.provider
    )
    assert ended.status_code == 200, ended.text
    return visit_id


async def test_a_complaint_goes_to_the_provider_who_answers_and_an_operator_resolves(client, token, db):
    world = await build_world(client, token)
    visit_id = await finished_visit(client, db, world)
    opened = await client.post(
        f"{API}/complaints",
        json={"visit_id": visit_id, "text": "护理员迟到一小时"},
        headers={**world.operator, "Idempotency-Key": "c-1"},
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    assert (ticket["status"], ticket["provider_id"], ticket["elder_id"]) == ("sent", world.provider_id, world.elder_id)
    assert ticket["age_hours"] == 0.0 and ticket["call_id"] is not None
    replay = await client.post(
        f"{API}/complaints",
        json={"visit_id": visit_id, "text": "护理员迟到一小时"},
        headers={**world.operator, "Idempotency-Key": "c-1"},
    )
    assert replay.status_code == 201 and replay.content == opened.content
    call = (await client.get(f"{API}/calls/{ticket['call_id']}", headers=world.operator)).json()
    assert (call["type"], call["outcome"], call["elder_id"]) == ("complaint", "complaint_opened", world.elder_id)

    mine = (await client.get(f"{API}/provider/complaints", headers=world.provider)).json()["items"]
    assert [c["id"] for c in mine] == [ticket["id"]] and "elder_id" not in mine[0]
    assert (await client.get(f"{API}/provider/complaints", headers=world.other_provider)).json()["items"] == []
    before = await row_counts(db)
    foreign = await client.post(
        f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "不是我们"}, headers=world.other_provider
    )
    assert foreign.status_code == 404
    assert (
        await client.post(f"{API}/provider/complaints/999999/answer", json={"answer": "x"}, headers=world.provider)
    ).status_code == 404
    for body, field in (
        ({"answer": ""}, "answer"),
        ({"answer": "  "}, "answer"),
        ({}, "answer"),
        ({"answer": "x" * 1001}, "answer"),
        ({"answer": "ok", "extra": 1}, "extra"),
    ):
        response = await client.post(
            f"{API}/provider/complaints/{ticket['id']}/answer", json=body, headers=world.provider
        )
        assert response.status_code == 422 and field in problem_fields(response), (body, response.text)
    assert (
        await client.post(
            f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "x"}, headers=world.operator
        )
    ).status_code == 403
    assert await row_counts(db) == before

    answered = await client.post(
        f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "已批评教育护理员"}, headers=world.provider
    )
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    again = await client.post(
        f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "已批评教育护理员"}, headers=world.provider
    )
    assert again.status_code == 200 and again.json()["answer"] == "已批评教育护理员"
    other_words = await client.post(
        f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "另一种说法"}, headers=world.provider
    )
    assert other_words.status_code == 409

    resolved = await client.post(
        f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": "老人满意"}, headers=world.operator
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["age_hours"] is None
    assert (
        await client.post(
            f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": "老人满意"}, headers=world.operator
        )
    ).status_code == 200
    assert (
        await client.post(
            f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": "别的"}, headers=world.operator
        )
    ).status_code == 409
    assert (
        await client.post(
            f"{API}/provider/complaints/{ticket['id']}/answer", json={"answer": "晚了"}, headers=world.provider
        )
    ).status_code == 409
    assert (
        await client.post(f"{API}/complaints/999999/resolve", json={"resolution": "x"}, headers=world.operator)
    ).status_code == 404
    assert (
        await client.post(f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": ""}, headers=world.operator)
    ).status_code == 422


async def test_regulators_read_their_area_and_street_seats_are_held_to_theirs(client, token, db):
    world = await build_world(client, token)  # the elder lives in 530111001001
    visit_id = await finished_visit(client, db, world)
    other_street = await token("operator", area_code="530111002")
    own_street = await token("operator", area_code="530111001")
    before = await row_counts(db)
    for body in (
        {"visit_id": visit_id, "text": "投诉"},
        {"elder_id": world.elder_id, "text": "投诉"},
        {"visit_id": 999999, "text": "投诉"},
        {"elder_id": 999999, "text": "投诉"},
    ):
        refused = await client.post(f"{API}/complaints", json=body, headers=other_street)
        assert refused.status_code == 404, (body, refused.text)
    for body, field in (
        ({"visit_id": visit_id, "elder_id": world.elder_id, "text": "x"}, "body"),
        ({"text": "x"}, "body"),
        ({"elder_id": world.elder_id, "text": " "}, "text"),
        ({"visit_id": visit_id, "provider_id": world.provider_id, "text": "x"}, "body"),
        ({"elder_id": world.elder_id, "provider_id": 999999, "text": "x"}, "provider_id"),
        ({"elder_id": world.elder_id, "text": "x" * 1001}, "text"),
        ({"elder_id": "1", "text": "x"}, "elder_id"),
    ):
        refused = await client.post(f"{API}/complaints", json=body, headers=own_street)
        assert refused.status_code == 422 and field in problem_fields(refused), (body, refused.text)
    assert (
        await client.post(f"{API}/complaints", json={"elder_id": world.elder_id, "text": "x"}, headers=world.provider)
    ).status_code == 403
    assert await row_counts(db) == before

    ticket = (
        await client.post(
            f"{API}/complaints", json={"elder_id": world.elder_id, "text": "热线等太久"}, headers=own_street
        )
    ).json()
    assert ticket["status"] == "open" and ticket["provider_id"] is None
    regulator = await token("regulator", area_code="530111")
    elsewhere = await token("regulator", area_code="460106")
    assert [c["id"] for c in (await client.get(f"{API}/complaints", headers=regulator)).json()["items"]] == [
        ticket["id"]
    ]
    assert (await client.get(f"{API}/complaints/{ticket['id']}", headers=regulator)).status_code == 200
    assert (await client.get(f"{API}/complaints", headers=elsewhere)).json()["items"] == []
    assert (await client.get(f"{API}/complaints/{ticket['id']}", headers=elsewhere)).status_code == 404
    assert (await client.get(f"{API}/complaints", params={"area": "530111"}, headers=elsewhere)).status_code == 403
    assert (await client.get(f"{API}/complaints/{ticket['id']}", headers=other_street)).status_code == 404
    assert (
        await client.post(f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": "x"}, headers=other_street)
    ).status_code == 404
    assert (
        await client.post(f"{API}/complaints/{ticket['id']}/resolve", json={"resolution": "x"}, headers=regulator)
    ).status_code == 403
    for params, field in (
        ({"status": "closed"}, "status"),
        ({"cursor": "x"}, "cursor"),
        ({"provider_id": 0}, "provider_id"),
        ({"area": "12"}, "area"),
    ):
        response = await client.get(f"{API}/complaints", params=params, headers=world.operator)
        assert response.status_code == 422 and field in problem_fields(response), (params, response.text)
    page = await client.get(f"{API}/complaints", params={"status": "open", "limit": 1}, headers=world.operator)
    assert [c["id"] for c in page.json()["items"]] == [ticket["id"]]


async def test_a_complaint_on_the_follow_up_call_opens_a_ticket_sent_to_the_provider(client, token, db):
    world = await build_world(client, token)
    visit_id = await finished_visit(client, db, world)
    recorded = await client.post(
        f"{API}/visits/{visit_id}/follow-up",
        json={"satisfaction": 2, "complaint": "打扫不干净"},
        headers=world.operator,
    )
    assert recorded.status_code == 201, recorded.text
    tickets = (
        await client.get(f"{API}/complaints", params={"provider_id": world.provider_id}, headers=world.admin)
    ).json()["items"]
    assert [(t["visit_id"], t["status"], t["text"], t["follow_up_id"]) for t in tickets] == [
        (visit_id, "sent", "打扫不干净", recorded.json()["id"])
    ]
    second = await finished_visit(client, db, world)
    quiet = await client.post(f"{API}/visits/{second}/follow-up", json={"satisfaction": 5}, headers=world.operator)
    assert quiet.status_code == 201
    assert len((await client.get(f"{API}/complaints", headers=world.admin)).json()["items"]) == 1


async def test_complaints_take_points_off_the_quality_score_and_never_add_any():
    base = ProviderMonth(
        visits=100, verified=90, exceptions=10, follow_ups=10, satisfaction_sum=40, emergencies=0, emergencies_on_time=0
    )
    clean = quality_score(base)
    scores = [quality_score(ProviderMonth(**{**base.__dict__, "complaints": n})) for n in (0, 1, 5, 10, 50)]
    assert scores[0] == clean
    assert scores == sorted(scores, reverse=True) and scores[1] == round(clean - 2, 1)
    assert scores[3] == scores[4] == round(clean - 20, 1)  # the deduction is bounded


async def test_the_month_summary_counts_complaints_and_calls(client, token, db):
    world = await build_world(client, token)
    await client.post(f"{API}/complaints", json={"elder_id": world.elder_id, "text": "态度差"}, headers=world.operator)
    other = (
        await client.post(
            f"{API}/elders",
            json=elder_body(area_code="460106001001", location={"lat": 20.02, "lon": 110.33}),
            headers=world.admin,
        )
    ).json()
    await client.post(f"{API}/complaints", json={"elder_id": other["id"], "text": "x"}, headers=world.operator)
    regulator = await token("regulator", area_code="530111")
    month = (ago(hours=0) + timedelta(hours=8)).strftime("%Y-%m")
    summary = (await client.get(f"{API}/reports/monthly", params={"month": month}, headers=regulator)).json()
    calls = summary["calls"]
    assert calls["complaints_opened"] == 1 and calls["complaints_resolved"] == 0
    assert calls["by_type"]["complaint"] == 1 and calls["total"] == 1
    everywhere = (await client.get(f"{API}/reports/monthly", params={"month": month}, headers=world.admin)).json()
    assert everywhere["calls"]["complaints_opened"] == 2
