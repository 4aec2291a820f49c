"""Every well-formed but invalid input is a 422 problem naming the field, with nothing written (issue 10).

Each table row is (role, method, path, body) -> the field the 422 must name. Paths and bodies name the
objects of a small world by placeholder: {elder}, {provider}, {request}, {assignment} (accepted) and
{visit} (checked in). Every row of these tables was a 500, or worse a 201/200 that wrote a row later
work choked on, before the edge checked ids, texts, years, nulls and JSON types.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.db import utcnow
from service.pagination import encode_cursor
from tests.factories import elder_body, provider_body
from tests.service.helpers import HOME
from tests.service.hostile import BIG, NOW, check_out, refused, visit_start


def window(start: str, end: str) -> dict[str, Any]:
    return {"elder_id": "{elder}", "service": "health", "window_start": start, "window_end": end}


def in_days(days: int, hour: int) -> str:
    return (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


IDS = [
    ("admin", "GET", f"/api/v1/elders/{BIG}", None, "elder_id"),
    ("admin", "GET", f"/api/v1/elders/{2**63}", None, "elder_id"),
    ("admin", "GET", "/api/v1/elders/0", None, "elder_id"),
    ("admin", "PATCH", f"/api/v1/elders/{BIG}", {"status": "moved"}, "elder_id"),
    ("admin", "GET", f"/api/v1/providers/{BIG}", None, "provider_id"),
    ("admin", "PATCH", f"/api/v1/providers/{BIG}", {"monthly_quota": 1}, "provider_id"),
    ("admin", "POST", f"/api/v1/providers/{BIG}/reinstate", {"reason": "x"}, "provider_id"),
    ("operator", "GET", f"/api/v1/requests/{BIG}", None, "request_id"),
    ("operator", "GET", f"/api/v1/requests/{BIG}/explanation", None, "request_id"),
    ("operator", "POST", f"/api/v1/requests/{BIG}/cancel", {"reason": "x"}, "request_id"),
    ("operator", "GET", f"/api/v1/requests?elder_id={BIG}", None, "elder_id"),
    ("operator", "POST", "/api/v1/requests", {"elder_id": BIG, "service": "clean"}, "elder_id"),
    ("operator", "POST", "/api/v1/alerts", {"elder_id": BIG, "kind": "sos", "at": NOW}, "elder_id"),
    ("operator", "POST", f"/api/v1/visits/{BIG}/follow-up", {"satisfaction": 3}, "visit_id"),
    ("provider", "POST", f"/api/v1/provider/assignments/{BIG}/accept", {"caregiver": "李"}, "assignment_id"),
    ("provider", "POST", f"/api/v1/provider/assignments/{BIG}/decline", {"reason": "x"}, "assignment_id"),
    ("provider", "POST", "/api/v1/provider/visits", {**visit_start(), "assignment_id": BIG}, "assignment_id"),
    ("provider", "POST", f"/api/v1/provider/visits/{BIG}/check-out", check_out(), "visit_id"),
    ("admin", "GET", f"/api/v1/reports/settlement?month=2026-10&provider_id={BIG}", None, "provider_id"),
    # Cursors are opaque, but a client can still forge one.
    ("admin", "GET", f"/api/v1/elders?cursor={encode_cursor({'after': BIG})}", None, "cursor"),
    ("admin", "GET", f"/api/v1/elders?cursor={encode_cursor({'after': True})}", None, "cursor"),
    ("admin", "GET", f"/api/v1/providers?cursor={encode_cursor({'after': BIG})}", None, "cursor"),
    ("operator", "GET", f"/api/v1/requests?cursor={encode_cursor({'after': BIG})}", None, "cursor"),
    (
        "operator",
        "GET",
        f"/api/v1/follow-ups/queue?cursor={encode_cursor({'tier': 1, 'draw': BIG, 'after': 1})}",
        None,
        "cursor",
    ),
    (
        "provider",
        "GET",
        f"/api/v1/provider/assignments?cursor={encode_cursor({'t': 1 << 50, 'id': BIG})}",
        None,
        "cursor",
    ),
    ("provider", "GET", f"/api/v1/provider/assignments?cursor={encode_cursor({'t': 1, 'id': 1})}", None, "cursor"),
    ("operator", "GET", f"/api/v1/areas?cursor={encode_cursor({'code': chr(0)})}", None, "cursor"),
]

NUL = "关\x00上"
TEXTS = [
    ("admin", "POST", "/api/v1/elders", elder_body(name=NUL), "name"),
    ("admin", "POST", "/api/v1/elders", elder_body(address=NUL), "address"),
    ("admin", "POST", "/api/v1/elders", elder_body(device_id="YJT\x00"), "device_id"),
    ("admin", "POST", "/api/v1/elders", elder_body(name="张\x1b[2J"), "name"),  # other control characters
    ("admin", "PATCH", "/api/v1/elders/{elder}", {"address": NUL}, "address"),
    ("admin", "GET", "/api/v1/elders?q=%00", None, "q"),
    ("admin", "GET", "/api/v1/elders?phone=139%0000", None, "phone"),
    ("admin", "POST", "/api/v1/providers", provider_body(name=NUL), "name"),
    (
        "admin",
        "POST",
        "/api/v1/providers",
        provider_body(stations=[{"name": NUL, "location": HOME}]),
        "stations.0.name",
    ),
    ("admin", "PATCH", "/api/v1/providers/{provider}", {"name": NUL}, "name"),
    ("admin", "POST", "/api/v1/providers/{provider}/reinstate", {"reason": NUL}, "reason"),
    ("operator", "POST", "/api/v1/requests", {"elder_id": "{elder}", "service": "clean", "note": NUL}, "note"),
    ("operator", "POST", "/api/v1/requests/{request}/cancel", {"reason": NUL}, "reason"),
    ("operator", "POST", "/api/v1/alerts", {"device_id": NUL, "kind": "sos", "at": NOW}, "device_id"),
    ("operator", "POST", "/api/v1/visits/{visit}/follow-up", {"satisfaction": 3, "complaint": NUL}, "complaint"),
    ("provider", "POST", "/api/v1/provider/assignments/{assignment}/accept", {"caregiver": NUL}, "caregiver"),
    ("provider", "POST", "/api/v1/provider/assignments/{assignment}/decline", {"reason": NUL}, "reason"),
    ("provider", "POST", "/api/v1/provider/visits/{visit}/check-out", check_out(note=NUL), "note"),
]

YEARS = [
    # Critical item 1: this request was accepted, and every dispatch tick then failed on its month.
    (
        "operator",
        "POST",
        "/api/v1/requests",
        window("0998-05-01T10:00:00+08:00", "0998-05-01T12:00:00+08:00"),
        "window_start",
    ),
    (
        "operator",
        "POST",
        "/api/v1/requests",
        window("9999-12-31T10:00:00+08:00", "9999-12-31T12:00:00+08:00"),
        "window_start",
    ),
    (
        "operator",
        "POST",
        "/api/v1/requests",
        window("2099-12-31T22:00:00-12:00", "2099-12-31T23:00:00-12:00"),
        "window_start",
    ),
    ("operator", "POST", "/api/v1/requests", window(*(in_days(400, h) for h in (9, 11))), "window_start"),
    (
        "operator",
        "POST",
        "/api/v1/alerts",
        {"elder_id": "{elder}", "kind": "sos", "at": "0001-01-01T00:00:00+08:00"},
        "at",
    ),
    ("operator", "POST", "/api/v1/alerts", {"elder_id": "{elder}", "kind": "sos", "at": "1999-12-31T23:59:59Z"}, "at"),
    ("operator", "POST", "/api/v1/alerts", {"elder_id": "{elder}", "kind": "sos", "at": 1764547200}, "at"),
    ("operator", "GET", "/api/v1/requests?month=0998-05", None, "month"),
    ("operator", "GET", "/api/v1/follow-ups/queue?month=0001-01", None, "month"),
    ("operator", "GET", "/api/v1/follow-ups/queue?month=9999-12", None, "month"),
    ("operator", "GET", "/api/v1/plans/9999-12", None, "month"),
    ("admin", "POST", "/api/v1/plans?wait=true", {"month": "0998-05"}, "month"),
    ("admin", "POST", "/api/v1/plans?wait=true", {"month": "9999-12"}, "month"),
    ("admin", "POST", "/api/v1/plans?wait=true", {"month": "２０２６-12"}, "month"),  # fullwidth digits
    ("admin", "POST", "/api/v1/quality/assessments", {"month": "0000-01"}, "month"),
    ("admin", "POST", "/api/v1/quality/assessments", {"month": "9999-12"}, "month"),
    ("admin", "GET", "/api/v1/quality?month=9999-12", None, "month"),
    ("admin", "POST", "/api/v1/reports/closures", {"month": "0001-01", "area": "530111"}, "month"),
    ("admin", "POST", "/api/v1/reports/closures", {"month": "9999-12", "area": "530111"}, "month"),
    ("admin", "GET", "/api/v1/reports/closures?month=0001-01", None, "month"),
    (
        "admin",
        "POST",
        "/api/v1/prices",
        {"service": "clean", "unit_price_yuan": "35", "effective_from": "0001-01-01"},
        "effective_from",
    ),
    (
        "admin",
        "POST",
        "/api/v1/prices",
        {"service": "clean", "unit_price_yuan": "35", "effective_from": "9999-12-31"},
        "effective_from",
    ),
    (
        "admin",
        "POST",
        "/api/v1/prices",
        {"service": "clean", "unit_price_yuan": "NaN", "effective_from": "2026-12-01"},
        "unit_price_yuan",
    ),
    ("admin", "POST", "/api/v1/providers", provider_body(contract_start="0001-01-01"), "contract_start"),
    ("admin", "POST", "/api/v1/providers", provider_body(contract_end="9999-12-31"), "contract_end"),
    ("admin", "PATCH", "/api/v1/providers/{provider}", {"contract_end": "9999-12-31"}, "contract_end"),
    ("provider", "POST", "/api/v1/provider/visits", visit_start(at="0001-01-01T00:00:00Z"), "check_in.at"),
    ("provider", "POST", "/api/v1/provider/visits/{visit}/check-out", check_out(at="9999-12-31T23:59:59-12:00"), "at"),
]

NULLS = [
    *[
        ("admin", "PATCH", "/api/v1/elders/{elder}", {field: None}, field)
        for field in (
            "name",
            "id_number",
            "phone",
            "address",
            "location",
            "area_code",
            "visits_per_month",
            "min_minutes",
            "services",
            "preferred_weekdays",
            "living_alone",
            "status",
        )
    ],
    *[
        ("admin", "PATCH", "/api/v1/providers/{provider}", {field: None}, field)
        for field in (
            "name",
            "stations",
            "areas",
            "services",
            "monthly_quota",
            "contract_start",
            "contract_end",
            "status",
        )
    ],
]

# JSON types are taken as they are: query and path parameters arrive as text and stay lax.
STRICT = [
    *[
        ("operator", "POST", "/api/v1/requests", {"elder_id": value, "service": "clean"}, "elder_id")
        for value in (True, "{elder}-as-text", 1.5, 1.0)
    ],
    ("operator", "POST", "/api/v1/alerts", {"elder_id": True, "kind": "sos", "at": NOW}, "elder_id"),
    ("admin", "POST", "/api/v1/elders", elder_body(visits_per_month="2"), "visits_per_month"),
    ("admin", "POST", "/api/v1/elders", elder_body(living_alone=1), "living_alone"),
    ("admin", "POST", "/api/v1/elders", elder_body(location={"lat": "25.0211", "lon": 102.741}), "location.lat"),
    ("admin", "PATCH", "/api/v1/elders/{elder}", {"living_alone": "yes"}, "living_alone"),
    ("admin", "POST", "/api/v1/providers", provider_body(monthly_quota="400"), "monthly_quota"),
    ("operator", "POST", "/api/v1/visits/{visit}/follow-up", {"satisfaction": "5"}, "satisfaction"),
    (
        "provider",
        "POST",
        "/api/v1/provider/visits",
        {**visit_start(), "assignment_id": "{assignment}-as-text"},
        "assignment_id",
    ),
]


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), IDS)
async def test_ids_out_of_range_are_422(hostile_world, role, method, path, body, field):
    await refused(hostile_world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), TEXTS)
async def test_nul_and_control_characters_in_text_are_422(hostile_world, role, method, path, body, field):
    await refused(hostile_world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), YEARS)
async def test_times_days_and_months_outside_plausible_years_are_422(hostile_world, role, method, path, body, field):
    await refused(hostile_world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), NULLS)
async def test_null_on_a_field_that_cannot_be_empty_is_422(hostile_world, role, method, path, body, field):
    await refused(hostile_world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), STRICT)
async def test_json_types_are_strict(hostile_world, role, method, path, body, field):
    await refused(hostile_world, role, method, path, body, field)
