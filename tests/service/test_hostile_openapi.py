"""Hostile input across the whole OpenAPI document: its stated bounds, every text and integer field of
every operation, offline batches and the Idempotency-Key header."""

from __future__ import annotations

import json

from service.app import create_app
from service.settings import Settings
from tests.factories import elder_body
from tests.service.hostile import BIG, fill, row_counts, visit_start
from tests.service.test_elders import problem_fields


async def test_a_batch_reports_each_bad_item_and_echoes_only_real_client_ids(hostile_world):
    client, sessions, ids, roles = hostile_world
    before = await row_counts(sessions)
    items = fill(
        [
            {**visit_start(), "assignment_id": BIG},
            {**visit_start(), "client_visit_id": "\ud800"},
            visit_start(at="0001-01-01T00:00:00Z"),
        ],
        ids,
    )
    response = await client.post(
        "/api/v1/provider/visits:batch",
        content=json.dumps({"visits": items}),
        headers={**roles["provider"], "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert [r["error"]["status"] for r in results] == [422, 422, 422]
    assert [[e["field"] for e in r["error"]["errors"]] for r in results] == [
        ["assignment_id"],
        ["client_visit_id"],
        ["check_in.at"],
    ]
    assert results[0]["client_visit_id"] == items[0]["client_visit_id"] and results[1]["client_visit_id"] is None
    assert await row_counts(sessions) == before


def test_the_openapi_document_states_the_bounds():
    """Ids, months and PATCH nulls as the service checks them, so generated clients and tests stay inside."""
    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    ids = [
        (path, p["name"], p["schema"])
        for path, ops in spec["paths"].items()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["name"].endswith("_id")
    ]
    assert len(ids) >= 14  # every path and query id
    for path, name, schema in ids:
        schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer"), schema)
        assert (schema["minimum"], schema["maximum"]) == (1, 2**31 - 1), (path, name)
    months = [
        p["schema"]
        for ops in spec["paths"].values()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["name"] == "month"
    ]
    assert months and all("20[0-9]{2}" in json.dumps(m) for m in months)
    schemas = spec["components"]["schemas"]
    assert schemas["RequestCreate"]["properties"]["elder_id"]["maximum"] == 2**31 - 1
    elder_patch = schemas["ElderUpdate"]["properties"]
    assert "null" not in json.dumps(elder_patch["services"]) and "default" not in elder_patch["services"]
    assert {"type": "null"} in elder_patch["device_id"]["anyOf"]
    assert "null" not in json.dumps(schemas["ProviderUpdate"]["properties"])


async def test_a_nul_in_the_idempotency_key_is_422(hostile_world):
    client, sessions, _, roles = hostile_world
    before = await row_counts(sessions)
    response = await client.post(
        "/api/v1/elders", json=elder_body(), headers={**roles["admin"], "Idempotency-Key": "call\x00-1"}
    )
    assert response.status_code == 422 and problem_fields(response) == ["Idempotency-Key"], response.text
    assert await row_counts(sessions) == before


def _hostile_values(schema: dict, schemas: dict, nested: bool = True):
    """(path below the field, value) pairs it must refuse: NUL in any text, 2^31 for any integer."""
    for option in (s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"):
        if "$ref" in option and nested:  # one level down: locations, a check-in
            for name, sub in schemas[option["$ref"].split("/")[-1]].get("properties", {}).items():
                for path, value in _hostile_values(sub, schemas, nested=False):
                    yield (name, *path), value
        elif option.get("type") in ("string", "integer"):
            yield (), "\x00" if option["type"] == "string" else BIG
        elif option.get("type") == "array" and option.get("items", {}).get("type") in ("string", "integer"):
            yield ("0",), ["\x00" if option["items"]["type"] == "string" else BIG]


GOOD_QUERY = {"month": "2026-10"}


def _hostile_cases(spec: dict):
    """(method, path, request arguments, the field the 422 must name) for every query and body field."""
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            # The other required query parameters get a good value, so the 422 can only be the hostile one's.
            required = {
                p["name"]: GOOD_QUERY[p["name"]]
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    for _, value in _hostile_values(param["schema"], schemas, nested=False):
                        yield method, path, {"params": {**required, param["name"]: value}}, param["name"]
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body = schemas[ref["$ref"].split("/")[-1]] if "$ref" in ref else {}
            for name, prop in body.get("properties", {}).items():
                for below, value in _hostile_values(prop, schemas):
                    if below and below[0] != "0":  # a field of a nested object
                        value = {below[0]: value}
                    yield method, path, {"json": {name: value}}, ".".join((name, *below))


async def test_every_text_and_integer_of_every_operation_refuses_nul_and_out_of_range_ids(hostile_world):
    """Generic, from the OpenAPI document: a field added later without the shared types fails here."""
    client, sessions, ids, roles = hostile_world
    spec = (await client.get("/openapi.json")).json()
    before, tried, wrong = await row_counts(sessions), 0, []
    for method, path, kwargs, field in _hostile_cases(spec):
        url = path
        for name in ("elder", "provider", "request", "assignment", "visit"):
            url = url.replace(f"{{{name}_id}}", str(ids[name]))
        url = url.replace("{month}", "2026-10")
        for headers in roles.values():  # the first role the operation lets in
            response = await client.request(method, url, headers=headers, **kwargs)
            if response.status_code not in (401, 403):
                break
        tried += 1
        if response.status_code != 422 or field not in problem_fields(response):
            wrong.append((method, path, field, response.status_code, response.text[:120]))
    assert tried > 60 and wrong == []
    assert await row_counts(sessions) == before
