"""The service catalogue: items of the helps, and visits verified by their item's rules (issue 12 item 1)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.items.models import CatalogueItem
from service.lifecycle.models import Assignment, ServiceRequest
from service.visits.models import Visit
from tests.service.helpers import (
    accepted_assignment,
    ago,
    build_world,
    check_in_body,
    check_out_body,
    made_before,
)
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
SHANGHAI = ZoneInfo("Asia/Shanghai")
# ~3.6 km north of the home: the hospital an escort ends at.
HOSPITAL = {"lat": 25.0535, "lon": 102.7410, "coord_sys": "wgs84"}
CENTRE = {"lat": 25.025, "lon": 102.745, "coord_sys": "wgs84"}  # the world provider's station (tests/factories.py)


async def visit(client, world, assignment_id, start, minutes, *, check_in_at=None, check_out_at=None, tasks=("clean",)):
    started = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, start, check_in_at), headers=world.provider
    )
    assert started.status_code == 201, started.text
    return await client.post(
        f"/api/v1/provider/visits/{started.json()['id']}/check-out",
        json=check_out_body(start + timedelta(minutes=minutes), check_out_at, tasks),
        headers=world.provider,
    )


async def test_an_eight_minute_meal_delivery_is_verified(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world, service="meal")
    assert request["item"] == "meal_delivery"  # an old client names no item: the help's default
    ended = await visit(client, world, assignment_id, ago(minutes=30), 8, tasks=["meal"])
    assert ended.status_code == 200, ended.text
    assert ended.json()["verification"] == {"status": "verified", "exceptions": []}
    # Delivered to the door: handed over a kilometre away it is still off site.
    _, far_id = await accepted_assignment(client, db, world, caregiver="王送餐员", service="meal")
    far = await visit(client, world, far_id, ago(hours=3), 8, check_in_at=HOSPITAL, tasks=["meal"])
    assert far.json()["verification"]["exceptions"] == ["off_site"]


async def test_a_meal_cooked_at_home_keeps_the_hour(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, service="meal", item="meal_at_home")
    ended = await visit(client, world, assignment_id, ago(minutes=30), 8, tasks=["meal"])
    assert ended.json()["verification"]["exceptions"] == ["short_duration"]


async def test_an_escort_may_end_at_the_hospital_but_must_start_at_home(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, service="medical")
    ended = await visit(
        client, world, assignment_id, ago(minutes=200), 150, check_out_at=HOSPITAL, tasks=["medical", "companionship"]
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["verification"] == {"status": "verified", "exceptions": []}
    assert 3400 < body["check_out"]["distance_m"] < 3800
    _, away_id = await accepted_assignment(client, db, world, caregiver="王护理员", service="medical")
    away = await visit(
        client, world, away_id, ago(hours=8), 100, check_in_at=HOSPITAL, check_out_at=HOSPITAL, tasks=["medical"]
    )
    assert away.json()["verification"]["exceptions"] == ["off_site"]


async def test_a_home_care_visit_of_fifty_minutes_is_still_short(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world, service="clean")
    assert request["item"] == "home_care_visit"
    ended = await visit(client, world, assignment_id, ago(minutes=75), 50, check_out_at=HOSPITAL)
    assert ended.json()["verification"]["exceptions"] == ["short_duration", "off_site"]


async def test_the_elders_longer_minimum_still_holds(client, token, db):
    world = await build_world(client, token, min_minutes=90)
    _, assignment_id = await accepted_assignment(client, db, world)
    ended = await visit(client, world, assignment_id, ago(minutes=100), 75)
    assert ended.json()["verification"]["exceptions"] == ["short_duration"]


async def test_recreation_is_verified_at_the_providers_centre(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, service="recreation")
    ended = await visit(
        client,
        world,
        assignment_id,
        ago(minutes=100),
        40,
        check_in_at=CENTRE,
        check_out_at=CENTRE,
        tasks=["recreation"],
    )
    assert ended.json()["verification"] == {"status": "verified", "exceptions": []}
    # At the elder's home (about 600 m from the centre) it was not at the centre.
    _, home_id = await accepted_assignment(client, db, world, caregiver="王护理员", service="recreation")
    at_home = await visit(client, world, home_id, ago(hours=6), 40, tasks=["recreation"])
    assert at_home.json()["verification"]["exceptions"] == ["off_site"]


async def test_tasks_outside_the_items_list_are_refused(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, service="meal")
    refused = await visit(client, world, assignment_id, ago(minutes=30), 8, tasks=["meal", "clean"])
    assert refused.status_code == 422 and problem_fields(refused) == ["tasks"]
    assert "clean" in refused.json()["detail"]
    async with db() as session:  # nothing written on refusal: the visit is still open
        assert [v.check_out_at for v in (await session.exec(select(Visit))).all()] == [None]


@pytest.mark.parametrize("item", ["no_such_item", "meal_delivery"])
async def test_an_unknown_item_or_one_of_another_help_is_422(client, token, db, item):
    world = await build_world(client, token)
    body = {"elder_id": world.elder_id, "service": "clean", "item": item}
    for headers in (world.operator, {**world.operator, "Idempotency-Key": f"bad-{item}"}):
        refused = await client.post("/api/v1/requests", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert problem_fields(refused) == ["item"]
    async with db() as session:
        assert (await session.exec(select(ServiceRequest))).all() == []
        assert (await session.exec(select(AuditEvent).where(AuditEvent.action == "request.create"))).all() == []
    malformed = await client.post("/api/v1/requests", json={**body, "item": "Bad Code!"}, headers=world.operator)
    assert malformed.status_code == 422 and problem_fields(malformed) == ["item"]


async def test_a_named_item_is_carried_by_the_request(client, token, db):
    world = await build_world(client, token)
    created = await client.post(
        "/api/v1/requests",
        json={"elder_id": world.elder_id, "service": "medical", "item": "medical_home_visit"},
        headers=world.operator,
    )
    assert created.status_code == 201, created.text
    detail = (await client.get(f"/api/v1/requests/{created.json()['id']}", headers=world.operator)).json()
    assert detail["item"] == "medical_home_visit"


def item_body(**overrides) -> dict:
    return {
        "code": "meal_delivery",
        "help": "meal",
        "name": "送餐上门",
        "unit": "meal",
        "min_minutes": 15,
        "place": "door",
        "counts_toward_entitlement": False,
        "tasks": ["meal"],
        "effective_from": (utcnow() + timedelta(hours=8)).date().isoformat(),
        **overrides,
    }


async def test_admins_edit_the_catalogue_by_versions(client, token, db):
    world = await build_world(client, token)
    listed = (await client.get("/api/v1/catalogue/items", headers=world.operator)).json()
    assert {"meal_delivery", "home_care_visit", "medical_escort", "recreation_session"} <= {i["code"] for i in listed}
    defaults = {i["help"]: i["code"] for i in listed if i["is_default"]}
    assert defaults["meal"] == "meal_delivery" and defaults["clean"] == "home_care_visit"

    forbidden = await client.post("/api/v1/catalogue/items", json=item_body(), headers=world.operator)
    assert forbidden.status_code == 403
    headers = {**world.admin, "Idempotency-Key": "meal-v2"}
    added = await client.post("/api/v1/catalogue/items", json=item_body(), headers=headers)
    assert added.status_code == 201, added.text
    again = await client.post("/api/v1/catalogue/items", json=item_body(), headers=headers)
    assert again.status_code == 201 and again.json() == added.json()  # the key's first answer, nothing new
    twin = await client.post("/api/v1/catalogue/items", json=item_body(), headers=world.admin)
    assert twin.status_code == 409
    other_help = await client.post(
        "/api/v1/catalogue/items", json=item_body(help="clean", effective_from="2030-01-01"), headers=world.admin
    )
    assert other_help.status_code == 422 and problem_fields(other_help) == ["help"]
    bad_unit = await client.post("/api/v1/catalogue/items", json=item_body(unit="hour"), headers=world.admin)
    assert bad_unit.status_code == 422 and problem_fields(bad_unit) == ["unit"]
    async with db() as session:
        versions = (await session.exec(select(CatalogueItem).where(CatalogueItem.code == "meal_delivery"))).all()
        assert len(versions) == 2
    day = added.json()["effective_from"]
    in_force = (await client.get("/api/v1/catalogue/items", params={"on": day}, headers=world.operator)).json()
    assert [i["min_minutes"] for i in in_force if i["code"] == "meal_delivery"] == [15]


async def test_a_rule_change_applies_from_its_day_not_before(client, token, db):
    world = await build_world(client, token)
    now = utcnow()
    # The day of the change (Asia/Shanghai), begun at least ten minutes ago; from it a meal delivery must last
    # 15 minutes.
    day = (now - timedelta(minutes=10)).astimezone(SHANGHAI).date()
    midnight = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    added = await client.post(
        "/api/v1/catalogue/items", headers=world.admin, json=item_body(effective_from=day.isoformat())
    )
    assert added.status_code == 201, added.text
    window = {
        "window_start": (now - timedelta(days=2)).isoformat(),
        "window_end": (now + timedelta(days=1)).isoformat(),
    }
    before, before_id = await accepted_assignment(client, db, world, service="meal", **window)
    await made_before(db, before["id"], now - timedelta(days=2))
    earlier = await visit(client, world, before_id, midnight - timedelta(minutes=1), 8, tasks=["meal"])
    assert earlier.status_code == 200, earlier.text
    assert earlier.json()["verification"]["exceptions"] == []  # begun the evening before: the old rule
    _, after_id = await accepted_assignment(client, db, world, caregiver="王送餐员", service="meal")
    later = await visit(client, world, after_id, ago(minutes=9), 8, tasks=["meal"])
    assert later.json()["verification"]["exceptions"] == ["short_duration"]


async def test_planned_visits_are_home_care_visits_whatever_the_first_need(client, token, db, settings):
    # The elder's first-listed need is 助急, whose default item has no minimum; the plan's visits are the
    # programme's home-care visits all the same, held to the hour.
    world = await build_world(client, token, services=["emergency", "clean"])
    month = (utcnow() + timedelta(hours=8)).strftime("%Y-%m")
    planned = await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": month}, headers=world.admin)
    assert planned.status_code == 200 and planned.json()["state"] == "done", planned.text
    async with db() as session:
        requests = (await session.exec(select(ServiceRequest).where(ServiceRequest.kind == "planned"))).all()
        assert [(r.service, r.item) for r in requests] == [("emergency", "home_care_visit")] * 2
        offer = (await session.exec(select(Assignment).where(Assignment.request_id == requests[0].id))).one()
    provider = world.provider if offer.provider_id == world.provider_id else world.other_provider
    accepted = await client.post(
        f"/api/v1/provider/assignments/{offer.id}/accept", json={"caregiver": "李护理员"}, headers=provider
    )
    assert accepted.status_code == 200, accepted.text
    # A minute's visit (the emergency item would pass it), begun inside the month even in its first minutes.
    start = max(
        ago(minutes=2),
        datetime.combine((utcnow() + timedelta(hours=8)).date().replace(day=1), time(0), tzinfo=SHANGHAI),
    )
    started = await client.post("/api/v1/provider/visits", json=check_in_body(offer.id, start), headers=provider)
    assert started.status_code == 201, started.text
    ended = await client.post(
        f"/api/v1/provider/visits/{started.json()['id']}/check-out",
        headers=provider,
        json=check_out_body(start + timedelta(minutes=1), tasks=["emergency", "clean"]),
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["verification"]["exceptions"] == ["short_duration"]
