"""The auth matrix: every endpoint so far × every role, plus missing and unknown tokens."""

from __future__ import annotations

import pytest

from tests.factories import elder_body, provider_body

pytestmark = pytest.mark.asyncio

# (method, path template, body factory or None, roles allowed)
ENDPOINTS = [
    ("GET", "/api/v1/elders", None, {"admin", "operator"}),
    ("POST", "/api/v1/elders", elder_body, {"admin"}),
    ("GET", "/api/v1/elders/{elder}", None, {"admin", "operator"}),
    ("PATCH", "/api/v1/elders/{elder}", lambda: {"address": "新地址 1号"}, {"admin"}),
    ("GET", "/api/v1/providers", None, {"admin", "operator", "regulator"}),
    ("POST", "/api/v1/providers", provider_body, {"admin"}),
    ("GET", "/api/v1/providers/{provider}", None, {"admin", "operator", "regulator"}),
    ("PATCH", "/api/v1/providers/{provider}", lambda: {"monthly_quota": 10}, {"admin"}),
    ("GET", "/api/v1/areas", None, {"admin", "operator", "regulator", "provider"}),
    ("GET", "/api/v1/services", None, {"admin", "operator", "regulator", "provider"}),
]
ROLES = ["admin", "operator", "regulator", "provider"]


@pytest.fixture
async def world(client, token):
    admin = await token("admin")
    provider = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    elder = (await client.post("/api/v1/elders", json=elder_body(), headers=admin)).json()
    headers = {
        "admin": admin,
        "operator": await token("operator"),
        "regulator": await token("regulator", area_code="530111"),
        "provider": await token("provider", provider_id=provider["id"]),
    }
    return {"elder": elder["id"], "provider": provider["id"], "headers": headers}


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS)
async def test_roles(client, world, method, path, body, allowed):
    url = path.format(elder=world["elder"], provider=world["provider"])
    for role in ROLES:
        response = await client.request(method, url, json=body() if body else None, headers=world["headers"][role])
        if role in allowed:
            assert response.status_code < 400, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS)
async def test_missing_and_unknown_tokens_are_401(client, world, method, path, body, allowed):
    url = path.format(elder=world["elder"], provider=world["provider"])
    for headers in ({}, {"Authorization": "Bearer hc_not-a-real-token"}, {"Authorization": "Basic abc"}):
        response = await client.request(method, url, json=body() if body else None, headers=headers)
        assert response.status_code == 401, (headers, response.status_code)
        assert response.json()["status"] == 401


async def test_token_bindings_are_enforced(db):
    from service.errors import Invalid, NotFound
    from service.tokens.service import create_token

    async with db() as session:
        with pytest.raises(Invalid):
            await create_token(session, role="provider", name="x")
        with pytest.raises(Invalid):
            await create_token(session, role="regulator", name="x")
        with pytest.raises(Invalid):
            await create_token(session, role="operator", name="x", area_code="530111")
        with pytest.raises(Invalid):
            await create_token(session, role="root", name="x")
        with pytest.raises(NotFound):
            await create_token(session, role="provider", name="x", provider_id=999)
        with pytest.raises(NotFound):
            await create_token(session, role="regulator", name="x", area_code="110101")
