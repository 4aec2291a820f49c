"""Every well-formed but invalid input is a 422 problem naming the field, with nothing written (issue 10).

Each table row is (role, method, path, body) -> the field the 422 must name. Paths and bodies name the
objects of a small world by placeholder: {elder}, {provider}, {request}, {assignment} (accepted) and
{visit} (checked in). Every row of these tables was a 500, or worse a 201/200 that wrote a row later
work choked on, before the edge checked ids, texts, years, nulls and JSON types.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, literal, select, union_all

from service.app import create_app
from service.db import utcnow
from service.models import metadata
from service.pagination import encode_cursor
from service.settings import Settings
from tests.conftest import clean_database, token_factory
from tests.factories import elder_body, provider_body
from tests.service.helpers import HOME, accepted_assignment, ago, build_world, check_in_body
from tests.service.test_elders import problem_fields

BIG = 2**31  # one past the largest id an INTEGER column holds on PostgreSQL
NOW = "2026-11-20T08:00:00+08:00"
AT_HOME = {**HOME, "coord_sys": "wgs84"}


def window(start: str, end: str) -> dict[str, Any]:
    return {"elder_id": "{elder}", "service": "health", "window_start": start, "window_end": end}


def in_days(days: int, hour: int) -> str:
    return (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def visit_start(**check_in) -> dict[str, Any]:
    return {"assignment_id": "{assignment}", "client_visit_id": str(uuid.uuid4()),
            "check_in": {"at": NOW, "location": AT_HOME, **check_in}}


def check_out(**overrides) -> dict[str, Any]:
    return {"at": NOW, "location": AT_HOME, "tasks": ["clean"], **overrides}


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
    ("operator", "GET", f"/api/v1/follow-ups/queue?cursor={encode_cursor({'tier': 1, 'draw': BIG, 'after': 1})}",
     None, "cursor"),
    ("provider", "GET", f"/api/v1/provider/assignments?cursor={encode_cursor({'t': 1 << 50, 'id': BIG})}",
     None, "cursor"),
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
    ("admin", "POST", "/api/v1/providers", provider_body(stations=[{"name": NUL, "location": HOME}]),
     "stations.0.name"),
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
    ("operator", "POST", "/api/v1/requests", window("0998-05-01T10:00:00+08:00", "0998-05-01T12:00:00+08:00"),
     "window_start"),
    ("operator", "POST", "/api/v1/requests", window("9999-12-31T10:00:00+08:00", "9999-12-31T12:00:00+08:00"),
     "window_start"),
    ("operator", "POST", "/api/v1/requests", window("2099-12-31T22:00:00-12:00", "2099-12-31T23:00:00-12:00"),
     "window_start"),
    ("operator", "POST", "/api/v1/requests", window(*(in_days(400, h) for h in (9, 11))), "window_start"),
    ("operator", "POST", "/api/v1/alerts", {"elder_id": "{elder}", "kind": "sos", "at": "0001-01-01T00:00:00+08:00"},
     "at"),
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
    ("admin", "POST", "/api/v1/prices", {"service": "clean", "unit_price_yuan": "35", "effective_from": "0001-01-01"},
     "effective_from"),
    ("admin", "POST", "/api/v1/prices", {"service": "clean", "unit_price_yuan": "35", "effective_from": "9999-12-31"},
     "effective_from"),
    ("admin", "POST", "/api/v1/prices", {"service": "clean", "unit_price_yuan": "NaN", "effective_from": "2026-12-01"},
     "unit_price_yuan"),
    ("admin", "POST", "/api/v1/providers", provider_body(contract_start="0001-01-01"), "contract_start"),
    ("admin", "POST", "/api/v1/providers", provider_body(contract_end="9999-12-31"), "contract_end"),
    ("admin", "PATCH", "/api/v1/providers/{provider}", {"contract_end": "9999-12-31"}, "contract_end"),
    ("provider", "POST", "/api/v1/provider/visits", visit_start(at="0001-01-01T00:00:00Z"), "check_in.at"),
    ("provider", "POST", "/api/v1/provider/visits/{visit}/check-out", check_out(at="9999-12-31T23:59:59-12:00"),
     "at"),
]

NULLS = [
    *[("admin", "PATCH", "/api/v1/elders/{elder}", {field: None}, field) for field in (
        "name", "id_number", "phone", "address", "location", "area_code", "visits_per_month", "min_minutes",
        "services", "preferred_weekdays", "living_alone", "status")],
    *[("admin", "PATCH", "/api/v1/providers/{provider}", {field: None}, field) for field in (
        "name", "stations", "areas", "services", "monthly_quota", "contract_start", "contract_end", "status")],
]

# JSON types are taken as they are: query and path parameters arrive as text and stay lax.
STRICT = [
    *[("operator", "POST", "/api/v1/requests", {"elder_id": value, "service": "clean"}, "elder_id")
      for value in (True, "{elder}-as-text", 1.5, 1.0)],
    ("operator", "POST", "/api/v1/alerts", {"elder_id": True, "kind": "sos", "at": NOW}, "elder_id"),
    ("admin", "POST", "/api/v1/elders", elder_body(visits_per_month="2"), "visits_per_month"),
    ("admin", "POST", "/api/v1/elders", elder_body(living_alone=1), "living_alone"),
    ("admin", "POST", "/api/v1/elders", elder_body(location={"lat": "25.0211", "lon": 102.741}), "location.lat"),
    ("admin", "PATCH", "/api/v1/elders/{elder}", {"living_alone": "yes"}, "living_alone"),
    ("admin", "POST", "/api/v1/providers", provider_body(monthly_quota="400"), "monthly_quota"),
    ("operator", "POST", "/api/v1/visits/{visit}/follow-up", {"satisfaction": "5"}, "satisfaction"),
    ("provider", "POST", "/api/v1/provider/visits", {**visit_start(), "assignment_id": "{assignment}-as-text"},
     "assignment_id"),
]


@pytest.fixture(scope="module")
async def world(app):
    """The small world the tables refer to, and each role's headers. Built once per backend: every case
    is refused with nothing written (as each test checks), so the world stays as it was."""
    sessions = await clean_database(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        world = await build_world(client, token_factory(sessions))
        request, assignment = await accepted_assignment(client, sessions, world)
        visit = await client.post("/api/v1/provider/visits", json=check_in_body(assignment, ago(minutes=70)),
                                  headers=world.provider)
        assert visit.status_code == 201, visit.text
        ids = {"elder": world.elder_id, "provider": world.provider_id, "request": request["id"],
               "assignment": assignment, "visit": visit.json()["id"]}
        roles = {"admin": world.admin, "operator": world.operator, "provider": world.provider}
        yield client, sessions, ids, roles


def fill(value: Any, ids: dict[str, int]) -> Any:
    """Placeholders -> the world's ids: "{elder}" is the id itself, "{elder}-as-text" its digits as a string."""
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, str) and value.endswith("}-as-text"):
        return str(ids[value[1:-len("}-as-text")]])
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    return value


async def row_counts(sessions) -> list[tuple[str, int]]:
    """Every table's row count, in one statement."""
    counts = union_all(*(select(literal(t.name), func.count()).select_from(t) for t in metadata.sorted_tables))
    async with sessions() as session:
        return sorted(tuple(row) for row in (await session.exec(counts)).all())


async def _refused(world, role, method, path, body, field) -> None:
    client, sessions, ids, roles = world
    before = await row_counts(sessions)
    response = await client.request(method, fill(path, ids), json=fill(body, ids), headers=roles[role])
    assert response.status_code == 422, response.text
    assert field in problem_fields(response), response.text
    assert await row_counts(sessions) == before  # nothing written, not even an audit event


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), IDS)
async def test_ids_out_of_range_are_422(world, role, method, path, body, field):
    await _refused(world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), TEXTS)
async def test_nul_and_control_characters_in_text_are_422(world, role, method, path, body, field):
    await _refused(world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), YEARS)
async def test_times_days_and_months_outside_plausible_years_are_422(world, role, method, path, body, field):
    await _refused(world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), NULLS)
async def test_null_on_a_field_that_cannot_be_empty_is_422(world, role, method, path, body, field):
    await _refused(world, role, method, path, body, field)


@pytest.mark.parametrize(("role", "method", "path", "body", "field"), STRICT)
async def test_json_types_are_strict(world, role, method, path, body, field):
    await _refused(world, role, method, path, body, field)


async def test_a_batch_reports_each_bad_item_and_echoes_only_real_client_ids(world):
    client, sessions, ids, roles = world
    before = await row_counts(sessions)
    items = fill([{**visit_start(), "assignment_id": BIG}, {**visit_start(), "client_visit_id": "\ud800"},
                  visit_start(at="0001-01-01T00:00:00Z")], ids)
    response = await client.post("/api/v1/provider/visits:batch", content=json.dumps({"visits": items}),
                                 headers={**roles["provider"], "content-type": "application/json"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert [r["error"]["status"] for r in results] == [422, 422, 422]
    assert [[e["field"] for e in r["error"]["errors"]] for r in results] == [
        ["assignment_id"], ["client_visit_id"], ["check_in.at"]]
    assert results[0]["client_visit_id"] == items[0]["client_visit_id"] and results[1]["client_visit_id"] is None
    assert await row_counts(sessions) == before


def test_the_openapi_document_states_the_bounds():
    """Ids, months and PATCH nulls as the service checks them, so generated clients and tests stay inside."""
    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    ids = [(path, p["name"], p["schema"]) for path, ops in spec["paths"].items() for op in ops.values()
           for p in op.get("parameters", []) if p["name"].endswith("_id")]
    assert len(ids) >= 14  # every path and query id
    for path, name, schema in ids:
        schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer"), schema)
        assert (schema["minimum"], schema["maximum"]) == (1, 2**31 - 1), (path, name)
    months = [p["schema"] for ops in spec["paths"].values() for op in ops.values()
              for p in op.get("parameters", []) if p["name"] == "month"]
    assert months and all("20[0-9]{2}" in json.dumps(m) for m in months)
    schemas = spec["components"]["schemas"]
    assert schemas["RequestCreate"]["properties"]["elder_id"]["maximum"] == 2**31 - 1
    elder_patch = schemas["ElderUpdate"]["properties"]
    assert "null" not in json.dumps(elder_patch["services"]) and "default" not in elder_patch["services"]
    assert {"type": "null"} in elder_patch["device_id"]["anyOf"]
    assert "null" not in json.dumps(schemas["ProviderUpdate"]["properties"])


async def test_a_nul_in_the_idempotency_key_is_422(world):
    client, sessions, _, roles = world
    before = await row_counts(sessions)
    response = await client.post("/api/v1/elders", json=elder_body(),
                                 headers={**roles["admin"], "Idempotency-Key": "call\x00-1"})
    assert response.status_code == 422 and problem_fields(response) == ["Idempotency-Key"], response.text
    assert await row_counts(sessions) == before
