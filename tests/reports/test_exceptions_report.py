"""The exceptions report: every non-verified visit of the month, with why, where and who (elder masked)."""

from __future__ import annotations

from service.reports.visit_exceptions import mask_name
from tests.reports.month import MONTH, build_october

EXCEPTIONS = "/api/v1/reports/exceptions"


def test_names_are_masked_but_distinguishable():
    assert [mask_name(n) for n in ("张桂英", "李明", "欧阳春花", "王", "")] == ["张*英", "李*", "欧**花", "*", "*"]


async def test_every_unverified_visit_with_its_codes(client, token, db):
    october = await build_october(db)
    response = await client.get(
        EXCEPTIONS, params={"month": MONTH, "area": "530111"}, headers=await token("regulator", area_code="530111")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["title"] == "异常上门明细" and report["total"] == 3 and len(report["sha256"]) == 64
    assert [item["visit_id"] for item in report["items"]] == [october.visits[v] for v in ("v3", "v4", "v8")]
    short, off_site, open_visit = report["items"]
    assert short["exceptions"] == ["short_duration"] and short["exception_labels"] == ["服务时长不足"]
    assert short["elder_name"] == "李*兰" and short["duration_minutes"] == 45.0
    assert short["provider_name"] == "新苗护理" and short["check_in_at"] == "2026-10-10T10:00:00+08:00"
    assert off_site["exceptions"] == ["off_site", "outside_window"]
    assert off_site["check_in_distance_m"] == 1200.0
    assert off_site["elder_id"] == october.elders["王淑珍"] and off_site["area_code"] == "530111002001"
    assert open_visit["status"] == "in_progress" and open_visit["check_out_at"] is None
    assert all("张桂英" not in str(item) and "phone" not in item for item in report["items"])


async def test_a_street_regulator_sees_its_street_only(client, token, db):
    await build_october(db)
    street = await token("regulator", area_code="530111002")
    report = (await client.get(EXCEPTIONS, params={"month": MONTH}, headers=street)).json()
    assert {item["area_code"][:9] for item in report["items"]} == {"530111002"} and report["total"] == 2
    assert (
        await client.get(EXCEPTIONS, params={"month": MONTH, "area": "530111001"}, headers=street)
    ).status_code == 403
    assert (await client.get(EXCEPTIONS, params={"month": MONTH, "format": "xlsx"}, headers=street)).status_code == 422
