"""Settlement: verified visits × the unit price in effect on their day, across a mid-month price change."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlmodel import select

from service.reports.models import ServicePrice
from service.reports.prices import PriceBook, PriceVersion
from tests.reports.month import MONTH, build_october, set_prices

SETTLEMENT = "/api/v1/reports/settlement"
PRICES = [("clean", "2020-01-01", 60), ("clean", "2026-10-15", 66), ("emergency", "2020-01-01", 80)]


async def settle(client, headers, **params) -> dict:
    query = {k: v for k, v in {"month": MONTH, "area": "530111", **params}.items() if v is not None}
    response = await client.get(SETTLEMENT, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_price_book_picks_the_version_in_effect_on_the_day():
    book = PriceBook([PriceVersion("clean", date(2026, 10, 15), 6600), PriceVersion("clean", date(2020, 1, 1), 6000)])
    assert book.on("clean", date(2026, 10, 14)).fen == 6000
    assert book.on("clean", date(2026, 10, 15)).fen == 6600
    assert book.on("clean", date(2019, 12, 31)) is None and book.on("meal", date(2026, 10, 1)) is None
    assert book.changes_within("2026-10") == [date(2026, 10, 15)] and book.changes_within("2026-11") == []


async def test_settlement_across_a_price_change(client, token, db):
    october = await build_october(db)
    await set_prices(db, PRICES)
    admin = await token("admin")
    s = await settle(client, admin)
    kangle = october.providers["康乐"]
    # v1 on 10-05 at 60, v2 on 10-31 at 66 (the new price), two emergencies at 80; 新苗 had no verified visit.
    assert s["lines"] == [
        {
            "provider_id": kangle,
            "provider_name": "康乐养老",
            "service": "clean",
            "service_label": "助洁",
            "price_from": "2020-01-01",
            "unit_price_yuan": "60.00",
            "visits": 1,
            "amount_yuan": "60.00",
        },
        {
            "provider_id": kangle,
            "provider_name": "康乐养老",
            "service": "clean",
            "service_label": "助洁",
            "price_from": "2026-10-15",
            "unit_price_yuan": "66.00",
            "visits": 1,
            "amount_yuan": "66.00",
        },
        {
            "provider_id": kangle,
            "provider_name": "康乐养老",
            "service": "emergency",
            "service_label": "助急",
            "price_from": "2020-01-01",
            "unit_price_yuan": "80.00",
            "visits": 2,
            "amount_yuan": "160.00",
        },
    ]
    money = {"amount_yuan": "286.00", "adjustments_yuan": "0.00", "payable_yuan": "286.00"}
    assert s["totals"] == {"visits": 4, **money}
    assert s["providers"] == [{"provider_id": kangle, "provider_name": "康乐养老", "visits": 4, **money}]
    assert s["warnings"] == [] and s["status"] == "open" and s["title"] == "结算单"
    # September was paid at the old price, and the new version has not rewritten it.
    september = await settle(client, admin, month="2026-09")
    assert [(line["unit_price_yuan"], line["visits"]) for line in september["lines"]] == [("60.00", 1)]
    assert september["totals"]["payable_yuan"] == "60.00"


async def test_a_provider_and_a_regulator_see_their_part(client, token, db):
    october = await build_october(db)
    await set_prices(db, PRICES)
    regulator = await token("regulator", area_code="530111")
    assert (await settle(client, regulator, provider_id=october.providers["新苗"]))["totals"]["visits"] == 0
    own = await settle(client, regulator, provider_id=october.providers["康乐"], area=None)
    assert own["totals"]["payable_yuan"] == "286.00" and own["provider_id"] == october.providers["康乐"]
    street = await token("regulator", area_code="530111002")
    assert (await settle(client, street, area=None))["lines"] == []
    response = await client.get(SETTLEMENT, params={"month": MONTH, "area": "460106"}, headers=regulator)
    assert response.status_code == 403
    missing = await client.get(SETTLEMENT, params={"month": MONTH, "provider_id": 99999}, headers=regulator)
    assert missing.status_code == 404


async def test_a_service_without_a_price_is_flagged_not_guessed(client, token, db):
    await build_october(db)
    await set_prices(db, [("clean", "2020-01-01", 60)])
    s = await settle(client, await token("admin"))
    emergency = [line for line in s["lines"] if line["service"] == "emergency"]
    assert emergency[0]["unit_price_yuan"] is None and emergency[0]["amount_yuan"] == "0.00"
    assert s["warnings"] == ["助急(emergency) 在 2026-10-01 没有适用单价，金额按 0 计"]


async def test_settlement_as_csv(client, token, db):
    await build_october(db)
    await set_prices(db, PRICES)
    response = await client.get(
        SETTLEMENT, params={"month": MONTH, "area": "530111", "format": "csv"}, headers=await token("admin")
    )
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert ["", "合计", "4", "286.00", "0.00", "286.00"] in rows
    assert any(r[1:] == ["康乐养老", "助洁", "2026-10-15", "66.00", "1", "66.00"] for r in rows)


async def test_price_versions_are_added_never_rewritten(client, token, db):
    admin = await token("admin")
    body = {"service": "meal", "unit_price_yuan": "18.50", "effective_from": "2027-01-01"}
    created = await client.post("/api/v1/prices", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["unit_price_yuan"] == "18.50" and created.json()["service_label"] == "助餐"
    assert (await client.post("/api/v1/prices", json=body, headers=admin)).status_code == 409
    listed = (await client.get("/api/v1/prices", params={"service": "meal"}, headers=admin)).json()
    assert [(p["effective_from"], p["unit_price_yuan"]) for p in listed] == [("2027-01-01", "18.50")]
    for bad in (
        {**body, "unit_price_yuan": "1.234"},
        {**body, "unit_price_yuan": -1},
        {**body, "service": "nap"},
        {**body, "effective_from": "soon"},
        {**body, "extra": 1},
    ):
        assert (await client.post("/api/v1/prices", json=bad, headers=admin)).status_code == 422, bad
    regulator = await token("regulator", area_code="530111")
    assert (await client.post("/api/v1/prices", json=body, headers=regulator)).status_code == 403
    assert (await client.get("/api/v1/prices", headers=regulator)).status_code == 200
    assert (await client.get("/api/v1/prices", headers=await token("operator"))).status_code == 403
    async with db() as session:
        stored = (await session.exec(select(ServicePrice).where(ServicePrice.service == "meal"))).one()
        assert stored.unit_price_fen == 1850


async def test_a_price_may_not_start_inside_a_closed_month(client, token, db):
    await build_october(db)
    await set_prices(db, PRICES)
    admin = await token("admin")
    closed = await client.post("/api/v1/reports/closures", json={"month": MONTH, "area": "530111"}, headers=admin)
    assert closed.status_code == 201, closed.text
    inside = {"service": "clean", "unit_price_yuan": "70", "effective_from": "2026-10-20"}
    response = await client.post("/api/v1/prices", json=inside, headers=admin)
    assert response.status_code == 409 and "2026-11-01" in response.json()["detail"]
    later = await client.post("/api/v1/prices", json={**inside, "effective_from": "2026-11-01"}, headers=admin)
    assert later.status_code == 201
    assert (await settle(client, admin))["totals"]["payable_yuan"] == "286.00"
