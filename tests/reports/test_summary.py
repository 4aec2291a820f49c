"""The monthly summary against the hand-built October (tests/reports/month.py), figure by figure."""

from __future__ import annotations

import hashlib
import json

from service.areas.models import Area
from tests.reports.month import MONTH, build_october

MONTHLY = "/api/v1/reports/monthly"


async def summary(client, headers, **params) -> dict:
    response = await client.get(MONTHLY, params={"month": MONTH, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_figure_of_the_hand_built_month(client, token, db):
    october = await build_october(db)
    s = await summary(client, await token("admin"), area="530111")
    assert s["title"] == "监管月报" and s["area"] == {"code": "530111", "name": "官渡区"}
    assert s["status"] == "open" and s["closure"] is None and s["generated_at"].endswith("+08:00")
    assert s["elders"] == {"entitled": 4, "served": 1, "coverage_rate": 0.25}
    # Requests count in the month they were made for: 赵玉梅's second visit (1 November, 00:10) completes
    # an October request; the visit itself belongs to November.
    assert s["visits"] == {
        "entitled": 6,
        "planned": 6,
        "planned_completed": 5,
        "completion_rate": 0.8333,
        "completed": 6,
        "verified": 4,
        "verified_rate": 0.6667,
        "missed": 1,
        "ad_hoc_requests": 4,
    }
    assert s["exceptions"] == {
        "total": 2,
        "by_code": [
            {"code": "off_site", "label": "签到位置不符", "visits": 1},
            {"code": "outside_window", "label": "超出服务时段", "visits": 1},
            {"code": "short_duration", "label": "服务时长不足", "visits": 1},
        ],
    }
    # 45, 60, 62, 65, 70, 90 minutes
    assert s["duration"] == {
        "timed_visits": 6,
        "median_minutes": 63.5,
        "mean_minutes": 65.3,
        "share_at_least_60": 0.8333,
    }
    # answered in 25 and 45 minutes; one never answered
    assert s["emergencies"] == {
        "requests": 3,
        "answered": 2,
        "response_p50_minutes": 35.0,
        "response_p90_minutes": 43.0,
    }
    assert s["follow_ups"] == {"count": 3, "mean_satisfaction": 3.67, "complaints": 1}
    kangle, xinmiao = october.providers["康乐"], october.providers["新苗"]
    assert s["providers"] == [
        {
            "provider_id": kangle,
            "name": "康乐养老",
            "visits": 5,
            "verified": 4,
            "verified_rate": 1.0,
            "exceptions": 0,
            "quota": 100,
            "quota_used": 8,
            "quota_use_rate": 0.08,
            "follow_ups": 2,
            "mean_satisfaction": 4.5,
        },
        {
            "provider_id": xinmiao,
            "name": "新苗护理",
            "visits": 2,
            "verified": 0,
            "verified_rate": 0.0,
            "exceptions": 2,
            "quota": 10,
            "quota_used": 4,
            "quota_use_rate": 0.4,
            "follow_ups": 1,
            "mean_satisfaction": 2.0,
        },
    ]
    assert s["streets"] == [  # the worst-served street first
        {"code": "530111002", "name": "太和街道", "entitled": 2, "served": 0, "coverage_rate": 0.0},
        {"code": "530111001", "name": "关上街道", "entitled": 2, "served": 1, "coverage_rate": 0.5},
    ]
    assert s["amendments"] == []


async def test_month_edges_follow_asia_shanghai(client, token, db):
    """23:30 on 31 October (15:30 UTC) is October; 00:10 on 1 November (16:10 UTC on the 31st) is not."""
    await build_october(db)
    admin = await token("admin")
    street = await summary(client, admin, area="530111002")  # 赵玉梅's visit at 00:10 on 1 November lives here
    assert street["visits"]["verified"] == 0 and street["elders"]["served"] == 0
    november = await summary(client, admin, month="2026-11", area="530111002")
    assert november["visits"]["verified"] == 1 and november["elders"]["served"] == 1
    community = await summary(client, admin, area="530111001001")  # v1, v2 at 23:30 on the 31st, v6, v7
    assert community["visits"]["verified"] == 4 and community["duration"]["timed_visits"] == 4
    november = await summary(client, admin, month="2026-11", area="530111001001")
    assert november["visits"]["verified"] == 0


async def test_change_against_the_previous_month(client, token, db):
    await build_october(db)
    change = {c["figure"]: c for c in (await summary(client, await token("admin"), area="530111"))["change"]}
    assert change["visits.verified"] == {
        "figure": "visits.verified",
        "label": "核验通过上门",
        "current": 4,
        "previous": 1,
        "delta": 3,
    }
    assert change["elders.coverage_rate"]["previous"] == 0.25 and change["elders.coverage_rate"]["delta"] == 0
    assert change["visits.completion_rate"]["delta"] == -0.1667
    assert change["duration.median_minutes"] == {
        "figure": "duration.median_minutes",
        "label": "服务时长中位数(分钟)",
        "current": 63.5,
        "previous": 75.0,
        "delta": -11.5,
    }
    assert change["follow_ups.mean_satisfaction"]["previous"] is None
    assert change["follow_ups.mean_satisfaction"]["delta"] is None


async def test_the_stated_sha256_is_the_digest_of_the_content(client, token, db):
    await build_october(db)
    admin = await token("admin")
    first = await summary(client, admin, area="530111")
    content = {k: v for k, v in first.items() if k not in ("generated_at", "sha256")}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() == first["sha256"]
    again = await summary(client, admin, area="530111")
    assert again["sha256"] == first["sha256"] and again["generated_at"] != first["generated_at"]
    street = await summary(client, admin, area="530111001")
    assert street["sha256"] != first["sha256"]


async def test_a_regulator_sees_its_own_area_only(client, token, db):
    await build_october(db)
    county = await token("regulator", area_code="530111")
    assert (await summary(client, county))["area"]["code"] == "530111"  # its own area by default
    assert (await summary(client, county, area="530111002"))["elders"]["entitled"] == 2
    outside = await client.get(MONTHLY, params={"month": MONTH, "area": "460106"}, headers=county)
    assert outside.status_code == 403
    assert outside.headers["content-type"].startswith("application/problem+json")

    street = await token("regulator", area_code="530111001")
    own = await summary(client, street)
    assert own["area"] == {"code": "530111001", "name": "关上街道"}
    assert own["elders"] == {"entitled": 2, "served": 1, "coverage_rate": 0.5}
    assert own["visits"]["verified"] == 4 and [r["code"] for r in own["streets"]] == ["530111001"]
    for area in ("530111", "530111002", "530111002001", "460106"):
        response = await client.get(MONTHLY, params={"month": MONTH, "area": area}, headers=street)
        assert response.status_code == 403, area
    # Below its prefix but unknown: the code is checked, not the scope.
    assert (
        await client.get(MONTHLY, params={"month": MONTH, "area": "530111001999"}, headers=street)
    ).status_code == 422


async def test_a_city_regulator_sees_its_districts(client, token, db):
    await build_october(db)
    async with db() as session:
        session.add(Area(code="460100", name="海口市", level="city"))
        await session.commit()
        district = await session.get(Area, "460106")
        district.parent_code = "460100"
        await session.commit()
    city = await token("regulator", area_code="460100")
    haikou = await summary(client, city)
    assert haikou["area"]["name"] == "海口市" and haikou["elders"]["entitled"] == 1
    assert haikou["visits"]["verified"] == 1 and [r["name"] for r in haikou["streets"]] == ["中山街道"]
    assert (await summary(client, city, area="460106"))["visits"]["verified"] == 1
    guandu = await client.get(MONTHLY, params={"month": MONTH, "area": "530111"}, headers=city)
    assert guandu.status_code == 403


async def test_admin_without_an_area_sees_everything(client, token, db):
    await build_october(db)
    everything = await summary(client, await token("admin"))
    assert everything["area"] == {"code": None, "name": "全部地区"}
    assert everything["elders"]["entitled"] == 5 and everything["visits"]["verified"] == 5
    assert {r["code"] for r in everything["streets"]} == {"530111001", "530111002", "460106001"}


async def test_an_empty_month_reports_zeros_not_errors(client, token, db):
    s = await summary(client, await token("admin"), area="530111")
    assert s["elders"] == {"entitled": 0, "served": 0, "coverage_rate": None}
    assert s["duration"]["median_minutes"] is None and s["emergencies"]["response_p90_minutes"] is None
    assert s["providers"] == [] and [r["coverage_rate"] for r in s["streets"]] == [None, None]
