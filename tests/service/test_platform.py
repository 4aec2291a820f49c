"""Errors, operations endpoints, idempotency keys and the OpenAPI document."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import elder_body

pytestmark = pytest.mark.asyncio


async def test_unknown_route_and_method_are_problems(client, token):
    missing = await client.get("/api/v1/nothing-here", headers=await token("admin"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert set(missing.json()) >= {"type", "title", "status", "detail"}
    wrong = await client.delete("/api/v1/elders", headers=await token("admin"))
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


async def test_path_id_that_is_not_a_number_is_422(client, token):
    response = await client.get("/api/v1/elders/abc", headers=await token("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "elder_id"


async def test_livez_readyz_metrics(client, token):
    assert (await client.get("/livez")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    admin = await token("admin")
    await client.get("/api/v1/elders/1", headers=admin)
    # Not public: routes, volumes and error rates are an admin's (a Prometheus job sends an admin token).
    assert (await client.get("/metrics")).status_code == 401
    for role in ("operator", "regulator"):
        headers = await token(role, area_code="530111" if role == "regulator" else None)
        assert (await client.get("/metrics", headers=headers)).status_code == 403
    metrics = await client.get("/metrics", headers=admin)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    # Route templates, never concrete ids (ids identify elders).
    assert 'route="/api/v1/elders/{elder_id}"' in metrics.text
    assert '/api/v1/elders/1"' not in metrics.text


async def test_readyz_reports_an_unreachable_database():
    import httpx

    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/readyz")
        assert response.status_code == 503
        assert (await c.get("/livez")).status_code == 200
    await app.state.engine.dispose()


async def test_idempotency_key_replays_rejects_other_body_and_is_per_token(client, token):
    admin = await token("admin")
    body = elder_body()
    headers = {**admin, "Idempotency-Key": "create-zhang-1"}
    first = await client.post("/api/v1/elders", json=body, headers=headers)
    again = await client.post("/api/v1/elders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await client.post("/api/v1/elders", json=elder_body(), headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    listed = (await client.get("/api/v1/elders", headers=admin)).json()["items"]
    assert len(listed) == 1
    too_long = await client.post("/api/v1/elders", json=elder_body(), headers={**admin, "Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422


async def test_failed_first_attempt_releases_the_key(client, token):
    admin = await token("admin")
    headers = {**admin, "Idempotency-Key": "retry-after-fix"}
    body = elder_body(area_code="530111009009")  # passes the schema, fails the area lookup
    assert (await client.post("/api/v1/elders", json=body, headers=headers)).status_code == 422
    fixed = elder_body(id_number=body["id_number"], phone=body["phone"])
    assert (await client.post("/api/v1/elders", json=fixed, headers=headers)).status_code == 201


async def test_concurrent_twins_with_one_key_create_one_elder(client, token):
    admin = await token("admin")
    body = elder_body()
    headers = {**admin, "Idempotency-Key": "twins"}
    responses = await asyncio.gather(*(client.post("/api/v1/elders", json=body, headers=headers) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert len((await client.get("/api/v1/elders", headers=admin)).json()["items"]) == 1


async def test_openapi_lists_error_responses(client):
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/api/v1/elders"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(post)
    get_one = spec["paths"]["/api/v1/elders/{elder_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(get_one)


async def test_old_idempotency_keys_are_forgotten(client, token, db):
    from datetime import timedelta

    from service.db import utcnow
    from service.idempotency.service import KEPT_FOR, forget_old_keys

    admin = await token("admin")
    headers = {**admin, "Idempotency-Key": "old-key"}
    assert (await client.post("/api/v1/elders", json=elder_body(), headers=headers)).status_code == 201
    async with db() as session:
        assert await forget_old_keys(session, now=utcnow()) == 0
        assert await forget_old_keys(session, now=utcnow() + KEPT_FOR + timedelta(minutes=1)) == 1


async def test_areas_and_services_catalogue(client, token):
    headers = await token("operator")
    streets = (await client.get("/api/v1/areas", params={"parent": "530111"}, headers=headers)).json()
    assert [a["code"] for a in streets["items"]] == ["530111001", "530111002"]
    first = (await client.get("/api/v1/areas", params={"prefix": "530111", "limit": 2}, headers=headers)).json()
    rest = (
        await client.get("/api/v1/areas", params={"prefix": "530111", "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    assert [a["code"] for a in first["items"] + rest["items"]] == [
        "530111",
        "530111001",
        "530111001001",
        "530111001002",
        "530111002",
        "530111002001",
    ]
    services = (await client.get("/api/v1/services", headers=headers)).json()
    assert {"code": "meal", "name_zh": "助餐"} in services and len(services) == 8
    for params in ({"level": "planet"}, {"parent": "5301x"}, {"cursor": "abc"}, {"limit": 0}):
        response = await client.get("/api/v1/areas", params=params, headers=headers)
        assert response.status_code == 422, params
    assert (await client.get("/api/v1/areas")).status_code == 401


async def test_no_free_database_connection_is_503_with_retry_after(settings):
    """Overload is not a fault of the request: every pooled connection busy past the pool's timeout
    answers 503 problem+json with Retry-After, not 500."""
    import httpx
    from sqlalchemy.ext.asyncio import create_async_engine

    from service.app import create_app
    from service.db import make_sessionmaker

    app = create_app(settings)
    await app.state.engine.dispose()
    app.state.engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app.state.sessions = make_sessionmaker(app.state.engine)
    async with (
        app.state.engine.connect(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):  # the only connection, held
        response = await c.get("/api/v1/elders", headers={"Authorization": "Bearer hc_whoever"})
    await app.state.engine.dispose()
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert "too busy" in response.json()["detail"]
