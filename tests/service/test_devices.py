"""The device registry, gateways' heartbeats and alerts linked to the device that raised them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.db import utcnow
from service.devices.models import Device
from tests.factories import elder_body
from tests.service.helpers import at, build_world
from tests.service.hostile import row_counts
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
API = "/api/v1"


async def gateway(client, admin, name="华为一键通平台") -> tuple[int, dict]:
    made = await client.post(f"{API}/gateways", json={"name": name}, headers=admin)
    assert made.status_code == 201, made.text
    token = await client.post(
        f"{API}/tokens", json={"name": f"{name}-gw", "role": "gateway", "gateway_id": made.json()["id"]}, headers=admin
    )
    assert token.status_code == 201, token.text
    return made.json()["id"], {"Authorization": f"Bearer {token.json()['token']}"}


async def device(client, admin, elder_id, gateway_id=None, device_id="HK-0001", kind="one_touch") -> dict:
    made = await client.post(
        f"{API}/devices",
        json={"device_id": device_id, "elder_id": elder_id, "kind": kind, "gateway_id": gateway_id},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_gateway_reports_its_own_devices_heartbeats_and_learns_nothing_of_others(client, token, db):
    world = await build_world(client, token)
    gw, gw_token = await gateway(client, world.admin)
    other_gw, other_token = await gateway(client, world.admin, "另一平台")
    registered = await device(client, world.admin, world.elder_id, gw)
    assert registered["last_seen_at"] and registered["battery"] is None and registered["silent"] is False
    me = (await client.get(f"{API}/me", headers=gw_token)).json()
    assert me["role"] == "gateway" and me["gateway_id"] == gw

    seen = utcnow() - timedelta(minutes=1)
    beat = await client.post(
        f"{API}/gateway/heartbeats", json={"device_id": "HK-0001", "battery": 87, "at": at(seen)}, headers=gw_token
    )
    assert beat.status_code == 200, beat.text
    assert beat.json()["battery"] == 87 and set(beat.json()) == {"device_id", "last_seen_at", "battery"}
    # A late heartbeat never moves last_seen back, nor its battery over a newer one's.
    late = await client.post(
        f"{API}/gateway/heartbeats",
        json={"device_id": "HK-0001", "battery": 20, "at": at(seen - timedelta(hours=1))},
        headers=gw_token,
    )
    assert late.status_code == 200 and late.json() == beat.json()

    before = await row_counts(db)
    async with db() as session:
        stored = await session.get(Device, registered["id"])
        last_seen = stored.last_seen_at
    unknown = await client.post(f"{API}/gateway/heartbeats", json={"device_id": "NOPE"}, headers=gw_token)
    foreign = await client.post(f"{API}/gateway/heartbeats", json={"device_id": "HK-0001"}, headers=other_token)
    assert unknown.status_code == foreign.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    for body, field in (
        ({"device_id": "HK-0001", "battery": 101}, "battery"),
        ({"device_id": "HK-0001", "battery": -1}, "battery"),
        ({"device_id": "HK-0001", "battery": "50"}, "battery"),
        ({"device_id": "HK-0001", "at": at(utcnow() + timedelta(hours=1))}, "at"),
        ({"device_id": "HK-0001", "at": "2026-12-01T08:00:00"}, "at"),
        ({"battery": 50}, "device_id"),
        ({"device_id": "HK-0001", "x": 1}, "x"),
    ):
        refused = await client.post(f"{API}/gateway/heartbeats", json=body, headers=gw_token)
        assert refused.status_code == 422 and field in problem_fields(refused), (body, refused.text)
    assert (
        await client.post(f"{API}/gateway/heartbeats", json={"device_id": "HK-0001"}, headers=world.operator)
    ).status_code == 403
    assert (await client.get(f"{API}/devices", headers=gw_token)).status_code == 403
    assert await row_counts(db) == before
    async with db() as session:
        assert (await session.get(Device, registered["id"])).last_seen_at == last_seen
    assert other_gw != gw


async def test_registering_devices_refuses_bad_input_with_nothing_written(client, token, db):
    world = await build_world(client, token)
    gw, _ = await gateway(client, world.admin)
    first = await client.post(
        f"{API}/devices",
        json={"device_id": "HK-1", "elder_id": world.elder_id, "kind": "fall_sensor"},
        headers={**world.admin, "Idempotency-Key": "dev-1"},
    )
    again = await client.post(
        f"{API}/devices",
        json={"device_id": "HK-1", "elder_id": world.elder_id, "kind": "fall_sensor"},
        headers={**world.admin, "Idempotency-Key": "dev-1"},
    )
    assert first.status_code == again.status_code == 201 and first.content == again.content
    other = (await client.post(f"{API}/elders", json=elder_body(device_id="LEGACY-9"), headers=world.admin)).json()
    before = await row_counts(db)
    for body, status, field in (
        ({"device_id": "HK-2", "elder_id": 999999, "kind": "one_touch"}, 422, "elder_id"),
        ({"device_id": "HK-2", "elder_id": world.elder_id, "kind": "one_touch", "gateway_id": 999}, 422, "gateway_id"),
        ({"device_id": "HK-2", "elder_id": world.elder_id, "kind": "toaster"}, 422, "kind"),
        ({"device_id": "", "elder_id": world.elder_id, "kind": "one_touch"}, 422, "device_id"),
        ({"device_id": "HK-2", "elder_id": 2**31, "kind": "one_touch"}, 422, "elder_id"),
        ({"device_id": "HK-1", "elder_id": world.elder_id, "kind": "one_touch"}, 409, None),
        ({"device_id": "LEGACY-9", "elder_id": world.elder_id, "kind": "one_touch"}, 409, None),
    ):
        response = await client.post(f"{API}/devices", json=body, headers=world.admin)
        assert response.status_code == status, (body, response.text)
        if field:
            assert field in problem_fields(response), response.text
    assert (
        await client.post(
            f"{API}/devices",
            json={"device_id": "HK-3", "elder_id": world.elder_id, "kind": "one_touch"},
            headers=world.operator,
        )
    ).status_code == 403
    device_pk = first.json()["id"]
    assert (
        await client.patch(f"{API}/devices/999999", json={"status": "retired"}, headers=world.admin)
    ).status_code == 404
    for body, field in (
        ({"kind": None}, "kind"),
        ({"status": "lost"}, "status"),
        ({"gateway_id": 999}, "gateway_id"),
        ({"elder_id": 999999}, "elder_id"),
    ):
        response = await client.patch(f"{API}/devices/{device_pk}", json=body, headers=world.admin)
        assert response.status_code == 422 and field in problem_fields(response), (body, response.text)
    assert await row_counts(db) == before
    moved = await client.patch(
        f"{API}/devices/{device_pk}", json={"gateway_id": gw, "elder_id": other["id"]}, headers=world.admin
    )
    assert moved.status_code == 200 and moved.json()["elder_id"] == other["id"] and moved.json()["gateway_id"] == gw
    listed = (await client.get(f"{API}/devices", params={"elder_id": other["id"]}, headers=world.operator)).json()
    assert [d["device_id"] for d in listed["items"]] == ["HK-1"]
    assert (await client.get(f"{API}/devices/999999", headers=world.operator)).status_code == 404
    assert (await client.get(f"{API}/devices", params={"cursor": "bogus"}, headers=world.operator)).status_code == 422


async def test_an_alert_of_a_registered_device_reaches_its_elder_and_is_linked(client, token, db):
    world = await build_world(client, token)
    registered = await device(client, world.admin, world.elder_id, device_id="SENSOR-7", kind="fall_sensor")
    async with db() as session:
        await session.exec(update(Device).values(last_seen_at=utcnow() - timedelta(days=3)))
        await session.commit()
    silent = (await client.get(f"{API}/devices", params={"silent": "true"}, headers=world.operator)).json()
    assert [d["id"] for d in silent["items"]] == [registered["id"]] and silent["items"][0]["silent"]

    pressed = utcnow() - timedelta(seconds=5)
    alert = await client.post(
        f"{API}/alerts", json={"device_id": "SENSOR-7", "kind": "fall", "at": at(pressed)}, headers=world.operator
    )
    assert alert.status_code == 201, alert.text
    assert alert.json()["elder_id"] == world.elder_id and alert.json()["channel"] == "one_touch"
    joined = await client.post(
        f"{API}/alerts", json={"device_id": "SENSOR-7", "kind": "sos", "at": at(utcnow())}, headers=world.operator
    )
    assert joined.status_code == 200 and joined.json()["id"] == alert.json()["id"]
    detail = (await client.get(f"{API}/devices/{registered['id']}", headers=world.operator)).json()
    assert [(a["request_id"], a["kind"], a["joined"]) for a in detail["alerts"]] == [
        (alert.json()["id"], "sos", True),
        (alert.json()["id"], "fall", False),
    ]
    assert detail["silent"] is False  # a press is a sign of life
    before = await row_counts(db)
    unknown = await client.post(
        f"{API}/alerts", json={"device_id": "NOPE", "kind": "sos", "at": at(utcnow())}, headers=world.operator
    )
    assert unknown.status_code == 422 and problem_fields(unknown) == ["device_id"]
    assert await row_counts(db) == before


async def test_gateways_are_admins_and_names_are_unique(client, token, db):
    world = await build_world(client, token)
    await gateway(client, world.admin, "平台A")
    before = await row_counts(db)
    assert (await client.post(f"{API}/gateways", json={"name": "平台A"}, headers=world.admin)).status_code == 409
    assert (await client.post(f"{API}/gateways", json={"name": "  "}, headers=world.admin)).status_code == 422
    assert (await client.post(f"{API}/gateways", json={"name": "x"}, headers=world.operator)).status_code == 403
    assert await row_counts(db) == before
    assert [g["name"] for g in (await client.get(f"{API}/gateways", headers=world.admin)).json()] == ["平台A"]
