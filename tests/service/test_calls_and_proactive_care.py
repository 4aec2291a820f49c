"""The call log (types, outcomes, call-backs) and the day's proactive-care list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.db import utcnow
from service.devices.models import Device
from service.settings import Settings
from tests.factories import elder_body, id_number
from tests.service.helpers import accepted_assignment, ago, at, build_world, check_in_body
from tests.service.hostile import row_counts
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
API = "/api/v1"
TZ = Settings().tz


async def test_calls_are_logged_and_hang_ups_wait_for_their_call_back(client, token, db):
    world = await build_world(client, token)
    enquiry = await client.post(
        f"{API}/calls",
        json={"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id, "note": "问助餐价格"},
        headers={**world.operator, "Idempotency-Key": "call-1"},
    )
    replay = await client.post(
        f"{API}/calls",
        json={"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id, "note": "问助餐价格"},
        headers={**world.operator, "Idempotency-Key": "call-1"},
    )
    assert enquiry.status_code == replay.status_code == 201 and enquiry.content == replay.content
    assert enquiry.json()["area_code"] == "530111001001"
    hang_up = await client.post(
        f"{API}/calls",
        json={"type": "hang_up", "outcome": "needs_callback", "phone": "+86 138-0013-8000"},
        headers=world.operator,
    )
    assert hang_up.status_code == 201 and hang_up.json()["phone"] == "138****8000"
    pending = (await client.get(f"{API}/calls", params={"pending_callback": "true"}, headers=world.operator)).json()
    assert [c["id"] for c in pending["items"]] == [hang_up.json()["id"]]
    no_answer = await client.post(
        f"{API}/calls",
        json={"type": "callback", "outcome": "no_answer", "phone": "13800138000", "callback_of": hang_up.json()["id"]},
        headers=world.operator,
    )
    assert no_answer.status_code == 201
    still = (await client.get(f"{API}/calls", params={"pending_callback": "true"}, headers=world.operator)).json()
    assert [c["id"] for c in still["items"]] == [hang_up.json()["id"]]  # nobody reached yet
    reached = await client.post(
        f"{API}/calls",
        json={"type": "callback", "outcome": "answered", "phone": "13800138000", "callback_of": hang_up.json()["id"]},
        headers=world.operator,
    )
    assert reached.status_code == 201
    assert (await client.get(f"{API}/calls", params={"pending_callback": "true"}, headers=world.operator)).json()[
        "items"
    ] == []
    original = (await client.get(f"{API}/calls/{hang_up.json()['id']}", headers=world.operator)).json()
    assert original["called_back"] is True
    by_type = (await client.get(f"{API}/calls", params={"type": "callback"}, headers=world.operator)).json()
    assert len(by_type["items"]) == 2
    first_page = (await client.get(f"{API}/calls", params={"limit": 2}, headers=world.operator)).json()
    rest = (
        await client.get(
            f"{API}/calls", params={"limit": 2, "cursor": first_page["next_cursor"]}, headers=world.operator
        )
    ).json()
    assert len(first_page["items"]) == 2 and len(rest["items"]) == 2 and rest["next_cursor"] is None

    request, _ = await accepted_assignment(client, db, world)
    other = (await client.post(f"{API}/elders", json=elder_body(), headers=world.admin)).json()
    before = await row_counts(db)
    for body, field in (
        ({"type": "enquiry", "outcome": "answered"}, "body"),
        ({"type": "callback", "outcome": "answered", "elder_id": world.elder_id}, "body"),
        ({"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id, "callback_of": 1}, "body"),
        ({"type": "request", "outcome": "request_created", "elder_id": world.elder_id}, "body"),
        ({"type": "proactive", "outcome": "reached_well", "phone": "13800138000"}, "body"),
        ({"type": "complaint", "outcome": "complaint_opened", "elder_id": world.elder_id}, "body"),
        (
            {"type": "request", "outcome": "request_created", "elder_id": other["id"], "request_id": request["id"]},
            "request_id",
        ),
        (
            {"type": "request", "outcome": "request_created", "elder_id": world.elder_id, "request_id": 999999},
            "request_id",
        ),
        ({"type": "callback", "outcome": "answered", "phone": "13800138000", "callback_of": 999999}, "callback_of"),
        (
            {"type": "callback", "outcome": "answered", "phone": "13800138000", "callback_of": enquiry.json()["id"]},
            "callback_of",
        ),
        ({"type": "enquiry", "outcome": "answered", "elder_id": 999999}, "elder_id"),
        ({"type": "enquiry", "outcome": "answered", "phone": "12345"}, "phone"),
        ({"type": "chat", "outcome": "answered", "elder_id": world.elder_id}, "type"),
        ({"type": "enquiry", "outcome": "happy", "elder_id": world.elder_id}, "outcome"),
        (
            {
                "type": "enquiry",
                "outcome": "answered",
                "elder_id": world.elder_id,
                "at": at(utcnow() + timedelta(hours=1)),
            },
            "at",
        ),
        ({"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id, "note": "x" * 501}, "note"),
    ):
        response = await client.post(f"{API}/calls", json=body, headers=world.operator)
        assert response.status_code == 422 and field in problem_fields(response), (body, response.text)
    assert (
        await client.post(
            f"{API}/calls",
            json={"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id},
            headers=world.provider,
        )
    ).status_code == 403
    assert await row_counts(db) == before
    made = await client.post(
        f"{API}/calls",
        json={"type": "request", "outcome": "request_created", "elder_id": world.elder_id, "request_id": request["id"]},
        headers=world.operator,
    )
    assert made.status_code == 201
    for params, field in (
        ({"type": "chat"}, "type"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "x"}, "cursor"),
        ({"elder_id": 2**31}, "elder_id"),
    ):
        response = await client.get(f"{API}/calls", params=params, headers=world.operator)
        assert response.status_code == 422 and field in problem_fields(response), (params, response.text)
    assert (await client.get(f"{API}/calls/999999", headers=world.operator)).status_code == 404
    street = await token("operator", area_code="530111002")
    assert (await client.get(f"{API}/calls/{enquiry.json()['id']}", headers=street)).status_code == 404
    assert (await client.get(f"{API}/calls", headers=street)).json()["items"] == []
    assert (await client.get(f"{API}/calls", params={"area": "530111001"}, headers=street)).status_code == 403
    refused = await client.post(
        f"{API}/calls", json={"type": "enquiry", "outcome": "answered", "elder_id": world.elder_id}, headers=street
    )
    assert refused.status_code == 422 and problem_fields(refused) == ["elder_id"]


def today():
    return utcnow().astimezone(TZ).date()


async def test_the_proactive_care_list_finds_who_needs_a_call_and_drops_who_was_reached(client, token, db):
    world = await build_world(client, token, living_alone=True)  # born 1945: 80+ and alone
    admin = world.admin
    day = today()
    young_alone = (
        await client.post(
            f"{API}/elders",
            json=elder_body(
                id_number=id_number(born="19600101" if day.strftime("%m%d") != "0101" else "19600102"),
                living_alone=True,
            ),
            headers=admin,
        )
    ).json()
    young = (
        await client.post(
            f"{API}/elders",
            json=elder_body(id_number=id_number(born="19600101" if day.strftime("%m%d") != "0101" else "19600102")),
            headers=admin,
        )
    ).json()
    birthday = (
        await client.post(
            f"{API}/elders",
            json=elder_body(
                id_number=id_number(
                    born=f"1961{day.strftime('%m%d')}" if day.strftime("%m%d") != "0229" else "19600229"
                )
            ),
            headers=admin,
        )
    ).json()
    visited = (
        await client.post(
            f"{API}/elders",
            json=elder_body(id_number=id_number(born="19400101"), location={"lat": 25.0211, "lon": 102.7410}),
            headers=admin,
        )
    ).json()
    gone = (
        await client.post(f"{API}/elders", json=elder_body(living_alone=True, status="deceased"), headers=admin)
    ).json()
    silent = await client.post(
        f"{API}/devices", json={"device_id": "SILENT-1", "elder_id": young["id"], "kind": "door_sensor"}, headers=admin
    )
    async with db() as session:
        await session.exec(update(Device).values(last_seen_at=utcnow() - timedelta(hours=30)))
        await session.commit()
    # The 1940 elder had a visit yesterday: contact within the 7 days.
    world.elder_id, elder_id = visited["id"], world.elder_id
    _, assignment = await accepted_assignment(client, db, world)
    assert (
        await client.post(
            f"{API}/provider/visits", json=check_in_body(assignment, ago(hours=20)), headers=world.provider
        )
    ).status_code == 201
    world.elder_id = elder_id

    listed = await client.get(f"{API}/proactive-care", headers=world.operator)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["date"] == day.isoformat() and page["days"] == 7
    reasons = {item["elder"]["id"]: item["reasons"] for item in page["items"]}
    assert reasons == {
        world.elder_id: ["no_contact"],
        young_alone["id"]: ["no_contact"],
        young["id"]: ["silent_device"],
        birthday["id"]: ["birthday"],
    }
    first = next(i for i in page["items"] if i["elder"]["id"] == world.elder_id)
    assert first["elder"]["phone"].count("*") == 4 and first["elder"]["age"] >= 80 and first["last_contact_at"] is None
    assert (
        next(i for i in page["items"] if i["elder"]["id"] == young["id"])["silent_devices"][0]["device_id"]
        == silent.json()["device_id"]
    )
    assert gone["id"] not in reasons and visited["id"] not in reasons

    unanswered = await client.post(
        f"{API}/calls",
        json={"type": "proactive", "outcome": "no_answer", "elder_id": world.elder_id},
        headers=world.operator,
    )
    assert unanswered.status_code == 201
    again = (await client.get(f"{API}/proactive-care", headers=world.operator)).json()
    item = next(i for i in again["items"] if i["elder"]["id"] == world.elder_id)
    assert item["reasons"] == ["no_contact"] and [c["outcome"] for c in item["calls"]] == ["no_answer"]
    reached = await client.post(
        f"{API}/calls",
        json={"type": "proactive", "outcome": "reached_well", "elder_id": world.elder_id},
        headers=world.operator,
    )
    assert reached.status_code == 201
    after = (await client.get(f"{API}/proactive-care", headers=world.operator)).json()
    assert world.elder_id not in {i["elder"]["id"] for i in after["items"]}
    longer = (await client.get(f"{API}/proactive-care", params={"days": 1, "limit": 1}, headers=world.operator)).json()
    assert len(longer["items"]) == 1 and longer["next_cursor"]
    rest = (
        await client.get(
            f"{API}/proactive-care",
            params={"days": 1, "limit": 1, "cursor": longer["next_cursor"]},
            headers=world.operator,
        )
    ).json()
    assert rest["items"][0]["elder"]["id"] > longer["items"][0]["elder"]["id"]
    yesterday = (
        await client.get(
            f"{API}/proactive-care", params={"date": (day - timedelta(days=1)).isoformat()}, headers=world.operator
        )
    ).json()
    assert yesterday["date"] == (day - timedelta(days=1)).isoformat()

    street = await token("operator", area_code="530111002")
    assert (await client.get(f"{API}/proactive-care", headers=street)).json()["items"] == []
    assert (await client.get(f"{API}/proactive-care", params={"area": "530111001"}, headers=street)).status_code == 403
    assert (await client.get(f"{API}/proactive-care", headers=world.provider)).status_code == 403
    for params, field in (
        ({"date": (day + timedelta(days=1)).isoformat()}, "date"),
        ({"date": "2026-13-01"}, "date"),
        ({"days": 0}, "days"),
        ({"days": 91}, "days"),
        ({"cursor": "nope"}, "cursor"),
        ({"area": "9"}, "area"),
        ({"limit": 0}, "limit"),
    ):
        response = await client.get(f"{API}/proactive-care", params=params, headers=world.operator)
        assert response.status_code == 422 and field in problem_fields(response), (params, response.text)


def turning_80_on(birthday):
    """An ID number of someone whose 80th birthday is `birthday` (a year and the one 80 before are both leap or
    not, so any day has its date 80 years back)."""
    return id_number(born=birthday.replace(year=birthday.year - 80).strftime("%Y%m%d"))


async def test_an_elder_counts_as_80_from_the_80th_birthday_on(client, token, db):
    admin, operator = await token("admin"), await token("operator")
    day = today()
    turned = {}
    for label, birthday in (
        ("three days ago", day - timedelta(days=3)),
        ("today", day),
        ("tomorrow", day + timedelta(days=1)),
    ):
        created = await client.post(f"{API}/elders", json=elder_body(id_number=turning_80_on(birthday)), headers=admin)
        assert created.status_code == 201, created.text
        turned[label] = created.json()["id"]

    def listed(page):
        return {i["elder"]["id"]: i["reasons"] for i in page["items"] if i["elder"]["id"] in turned.values()}

    now = (await client.get(f"{API}/proactive-care", headers=operator)).json()
    ages = {i["elder"]["id"]: i["elder"]["age"] for i in now["items"]}
    assert listed(now) == {turned["three days ago"]: ["no_contact"], turned["today"]: ["no_contact", "birthday"]}
    assert ages[turned["three days ago"]] == ages[turned["today"]] == 80
    before = (
        await client.get(
            f"{API}/proactive-care", params={"date": (day - timedelta(days=1)).isoformat()}, headers=operator
        )
    ).json()
    assert listed(before) == {turned["three days ago"]: ["no_contact"]}
