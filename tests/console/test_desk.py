"""The regulator's desk: the summary page shows the API's figures for the official's own area, drills down,
downloads the API's files by session, refuses other areas (403 page), closes a month after confirmation."""

from __future__ import annotations

import csv
import io

import openpyxl
import pypdf
from sqlmodel import select

from service.reports.models import MonthClose
from tests.console.helpers import csrf, log_in, make_user
from tests.reports.month import MONTH, build_october


async def _desk(client, db, area: str = "530111", username: str = "reg"):
    await make_user(db, username, "regulator", area_code=area)
    await log_in(client, username)


async def test_the_summary_page_shows_the_api_figures_with_charts_and_drill_down(client, db, token):
    await build_october(db)
    api = (
        await client.get(
            "/api/v1/reports/monthly",
            params={"month": MONTH, "area": "530111"},
            headers=await token("regulator", area_code="530111"),
        )
    ).json()
    await _desk(client, db)
    page = await client.get("/console/supervision", params={"month": MONTH})
    assert page.status_code == 200
    text = page.text
    assert f"<b>{api['elders']['entitled']}</b>" in text and f"<b>{api['exceptions']['total']}</b>" in text
    assert api["sha256"] in text and text.count("<svg") >= 5
    for street in api["streets"]:
        assert street["name"] in text
    assert 'href="/console/supervision?month=2026-10&area=530111001"' in text  # drill-down to a street
    street = await client.get("/console/supervision", params={"month": MONTH, "area": "530111001"})
    assert street.status_code == 200 and "关上街道" in street.text and "官渡区" in street.text


async def test_downloads_are_the_api_files_authorised_by_the_session(client, db):
    await build_october(db)
    await _desk(client, db)
    base = {"month": MONTH}
    csv_file = await client.get("/console/supervision/download/monthly", params={**base, "format": "csv"})
    assert csv_file.status_code == 200 and csv_file.content.startswith(b"\xef\xbb\xbf")
    assert 'filename="monthly-530111-2026-10.csv"' in csv_file.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert ["地区", "官渡区"] in rows
    xlsx = await client.get("/console/supervision/download/settlement", params={**base, "format": "xlsx"})
    assert xlsx.status_code == 200 and openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames
    pdf = await client.get("/console/supervision/download/monthly", params={**base, "format": "pdf"})
    assert pdf.status_code == 200
    assert "监管月报" in "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    exceptions = await client.get("/console/supervision/download/exceptions", params={**base, "format": "csv"})
    assert exceptions.status_code == 200
    assert (
        await client.get("/console/supervision/download/exceptions", params={**base, "format": "pdf"})
    ).status_code == 404
    assert (
        await client.get("/console/supervision/download/plans", params={**base, "format": "csv"})
    ).status_code == 404


async def test_a_street_regulator_gets_the_403_page_for_its_district(client, db):
    await build_october(db)
    await _desk(client, db, area="530111001", username="street")
    assert (await client.get("/console/supervision", params={"month": MONTH})).status_code == 200
    for path in (
        "/console/supervision",
        "/console/supervision/download/monthly",
        "/console/supervision/exceptions",
        "/console/supervision/close",
    ):
        response = await client.get(path, params={"month": MONTH, "area": "530111", "format": "xlsx"})
        assert response.status_code == 403 and "辖区" in response.text, path
    own = await client.get("/console/supervision", params={"month": MONTH})
    assert 'href="/console/supervision?month=2026-10&area=530111"' not in own.text  # no link above its area


async def test_exceptions_filter_by_code_provider_street_and_day(client, db):
    october = await build_october(db)
    await _desk(client, db)
    page = await client.get("/console/supervision/exceptions", params={"month": MONTH})
    assert page.status_code == 200
    assert f"<td>{october.visits['v3']}</td>" in page.text and f"<td>{october.visits['v4']}</td>" in page.text
    short = await client.get("/console/supervision/exceptions", params={"month": MONTH, "code": "short_duration"})
    assert f"<td>{october.visits['v3']}</td>" in short.text and f"<td>{october.visits['v4']}</td>" not in short.text
    taihe = await client.get("/console/supervision/exceptions", params={"month": MONTH, "street": "530111002"})
    assert f"<td>{october.visits['v4']}</td>" in taihe.text and f"<td>{october.visits['v3']}</td>" not in taihe.text
    day = await client.get("/console/supervision/exceptions", params={"month": MONTH, "day": "2026-10-10"})
    assert f"<td>{october.visits['v3']}</td>" in day.text and f"<td>{october.visits['v4']}</td>" not in day.text
    kangle = await client.get(
        "/console/supervision/exceptions", params={"month": MONTH, "provider": str(october.providers["康乐"])}
    )
    assert "没有符合条件的异常" in kangle.text or f"<td>{october.visits['v3']}</td>" not in kangle.text
    assert (await client.get("/console/supervision/exceptions", params={"month": "2026-13"})).status_code == 404


async def test_closing_a_month_shows_what_is_frozen_then_closes_it_once(client, db):
    await build_october(db)
    await _desk(client, db)
    confirm = await client.get("/console/supervision/close", params={"month": MONTH})
    assert confirm.status_code == 200 and "将冻结" in confirm.text and "确认关账" in confirm.text
    token_ = await csrf(client, "/console/supervision/close?month=2026-10")
    form = {"csrf": token_, "month": MONTH, "area": "530111", "key": "close-oct"}
    done = await client.post("/console/supervision/close", data=form)
    assert done.status_code == 303
    assert (await client.post("/console/supervision/close", data=form)).status_code == 303  # same key: replayed
    again = await client.post("/console/supervision/close", data={**form, "key": "another"})
    assert again.status_code == 409 and "已关账" in again.text
    future = await client.post("/console/supervision/close", data={**form, "month": "2099-01", "key": "f"})
    assert future.status_code in (409, 422)
    outside = await client.post("/console/supervision/close", data={**form, "area": "460106", "key": "o"})
    assert outside.status_code == 403
    no_csrf = await client.post("/console/supervision/close", data={"month": MONTH, "area": "530111"})
    assert no_csrf.status_code == 403
    async with db() as session:
        closures = (await session.exec(select(MonthClose))).all()
    # The district's close freezes its streets with it, by the same signer (docs/api.md § Closures).
    assert ("530111", MONTH, "regulator:reg") in [(c.area_code, c.month, c.closed_by) for c in closures]
    assert {(c.month, c.closed_by) for c in closures} == {(MONTH, "regulator:reg")}
    assert all(c.area_code.startswith("530111") for c in closures)
    page = await client.get("/console/supervision", params={"month": MONTH})
    assert "已关账" in page.text


async def test_quality_scores_page(client, db, token, settings):
    await build_october(db)
    admin = await token("admin")
    assert (await client.post("/api/v1/quality/assessments", json={"month": MONTH}, headers=admin)).status_code == 200
    await _desk(client, db)
    page = await client.get("/console/supervision/quality", params={"month": MONTH})
    assert page.status_code == 200 and "康乐" in page.text and "新苗" in page.text
