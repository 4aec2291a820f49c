"""Month close: the signed summary stays as signed; later corrections are listed in the next report."""

from __future__ import annotations

import hashlib
import json

from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.months import month_of
from tests.reports.month import HOME, MONTH, build_october, set_prices
from tests.reports.test_settlement import PRICES

CLOSURES = "/api/v1/reports/closures"
MONTHLY = "/api/v1/reports/monthly"


async def get_json(client, path, headers, **params) -> dict:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_closed_month_stays_signed_and_corrections_go_to_the_next_report(client, token, db, settings):
    october = await build_october(db)
    await set_prices(db, PRICES)
    regulator = await token("regulator", area_code="530111")
    before = await get_json(client, MONTHLY, regulator, month=MONTH)
    closed = await client.post(CLOSURES, json={"month": MONTH}, headers=regulator)
    assert closed.status_code == 201, closed.text
    closure = closed.json()
    assert closure["area_code"] == "530111" and closure["closed_by"] == "regulator:test-regulator"
    signed = await get_json(client, MONTHLY, regulator, month=MONTH)
    assert signed["status"] == "closed" and signed["closure"]["closed_by"] == "regulator:test-regulator"
    assert signed["sha256"] == closure["sha256"] != before["sha256"]  # the closure is part of the content
    assert {k: v for k, v in signed.items() if k not in ("status", "closure", "sha256", "generated_at")} == {
        k: v for k, v in before.items() if k not in ("status", "closure", "sha256", "generated_at")
    }
    content = {k: v for k, v in signed.items() if k not in ("generated_at", "sha256")}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == closure["sha256"]
    settled = await get_json(client, "/api/v1/reports/settlement", regulator, month=MONTH)
    assert settled["status"] == "closed" and settled["sha256"] == closure["settlement_sha256"]

    # After the close: a phone that was offline uploads v8's check-out, and the call centre calls about v4.
    provider = await token("provider", provider_id=october.providers["康乐"])
    location = {"lat": HOME[0], "lon": HOME[1], "coord_sys": "wgs84"}
    check_out = {"at": "2026-10-30T10:30:00+08:00", "location": location, "tasks": ["clean"]}
    late = await client.post(
        f"/api/v1/provider/visits/{october.visits['v8']}/check-out", headers=provider, json=check_out
    )
    assert late.status_code == 200 and late.json()["verification"]["status"] == "verified", late.text
    called = await client.post(
        f"/api/v1/visits/{october.visits['v4']}/follow-up", json={"satisfaction": 1}, headers=await token("operator")
    )
    assert called.status_code == 201

    assert await get_json(client, MONTHLY, regulator, month=MONTH) == signed  # October is as signed
    assert await get_json(client, "/api/v1/reports/settlement", regulator, month=MONTH) == settled
    current = month_of(utcnow(), settings.tz)
    amendments = (await get_json(client, MONTHLY, regulator, month=current))["amendments"]
    assert [(a["month"], a["kind"], a["visit_id"], a["status"], a["satisfaction"]) for a in amendments] == [
        (MONTH, "visit", october.visits["v8"], "verified", None),
        (MONTH, "follow_up", october.visits["v4"], "exception", 1),
    ]
    # v8 is paid now, at the price of its day (clean from 10-15: 66 yuan), since October was paid without it.
    payable = await get_json(client, "/api/v1/reports/settlement", regulator, month=current)
    assert [(a["visit_id"], a["month"], a["unit_price_yuan"]) for a in payable["adjustments"]] == [
        (october.visits["v8"], MONTH, "66.00")
    ]
    assert payable["totals"]["adjustments_yuan"] == "66.00"
    # The district's streets closed with it, frozen at the same moment: a street's signed report agrees with
    # the district's row for it (it used to stay open and live).
    street = await get_json(client, MONTHLY, await token("admin"), month=MONTH, area="530111002")
    assert street["status"] == "closed" and street["closure"] == signed["closure"]
    assert street["visits"]["ad_hoc_requests"] == 1 and street["amendments"] == []
    row = next(r for r in signed["streets"] if r["code"] == "530111002")
    assert (street["elders"]["entitled"], street["elders"]["served"]) == (row["entitled"], row["served"])
    again = await client.post(CLOSURES, json={"month": MONTH, "area": "530111002"}, headers=regulator)
    assert again.status_code == 409, again.text
    community = await client.get(MONTHLY, params={"month": MONTH, "area": "530111002001"}, headers=regulator)
    assert community.status_code == 409 and "530111002" in community.json()["detail"]
    async with db() as session:
        event = (await session.exec(select(AuditEvent).where(AuditEvent.action == "month.close"))).one()
        assert event.after["sha256"] == closure["sha256"] and event.actor == "regulator:test-regulator"
        assert "530111002" in event.after["with"]
        assert event.entity_id == f"530111:{MONTH}"


async def test_who_may_close_what_and_when(client, token, db, settings):
    await build_october(db)
    county = await token("regulator", area_code="530111")
    street = await token("regulator", area_code="530111001")
    admin = await token("admin")
    refused = (
        ({"month": MONTH, "area": "530111"}, street),
        ({"month": MONTH, "area": "460106"}, county),
        ({"month": MONTH}, await token("operator")),
    )
    for body, headers in refused:
        assert (await client.post(CLOSURES, json=body, headers=headers)).status_code == 403, body
    assert (await client.post(CLOSURES, json={"month": MONTH})).status_code == 401
    assert (await client.post(CLOSURES, json={"month": MONTH}, headers=street)).status_code == 201
    assert (await client.post(CLOSURES, json={"month": MONTH}, headers=street)).status_code == 409
    this_month = month_of(utcnow(), settings.tz)
    assert (await client.post(CLOSURES, json={"month": this_month}, headers=county)).status_code == 409
    for body in (
        {"month": MONTH},
        {"month": "2026-1", "area": "530111"},
        {"area": "530111"},
        {"month": MONTH, "area": "5301"},
        {"month": MONTH, "area": "530111777"},
        {"month": MONTH, "area": "530111", "sign": True},
    ):
        response = await client.post(CLOSURES, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
    closed = await client.post(CLOSURES, json={"month": MONTH, "area": "530111"}, headers=admin)
    assert closed.status_code == 201

    seen = await get_json(client, CLOSURES, county)
    # 530111001 keeps the closure it had; the district's other street closed with the district.
    assert [(c["area_code"], c["month"]) for c in seen] == [
        ("530111", MONTH),
        ("530111001", MONTH),
        ("530111002", MONTH),
    ]
    assert {c["area_code"]: c["closed_by"] for c in seen}["530111002"] == "admin:test-admin"
    assert [c["area_code"] for c in await get_json(client, CLOSURES, street)] == ["530111001"]
    assert await get_json(client, CLOSURES, await token("regulator", area_code="460106")) == []
    asked = await get_json(client, CLOSURES, admin, area="530111001", month=MONTH)
    assert [c["area_code"] for c in asked] == ["530111001"]
