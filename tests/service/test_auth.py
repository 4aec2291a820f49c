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
            await create_token(session, role="admin", name="x", area_code="530111")
        with pytest.raises(Invalid):
            await create_token(session, role="gateway", name="x")
        with pytest.raises(Invalid):
            await create_token(session, role="root", name="x")
        with pytest.raises(NotFound):
            await create_token(session, role="provider", name="x", provider_id=999)
        with pytest.raises(NotFound):
            await create_token(session, role="regulator", name="x", area_code="110101")


async def _revoke(db, headers: dict[str, str]) -> None:
    from sqlalchemy import update

    from service.db import utcnow
    from service.tokens.models import ApiToken
    from service.tokens.service import hash_token

    token = headers["Authorization"].removeprefix("Bearer ")
    async with db() as session:
        await session.exec(update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=utcnow()))
        await session.commit()


async def test_a_revoked_token_stops_working_once_the_cache_ttl_has_passed(client, token, db, app, monkeypatch):
    cache = app.state.principals
    now = [1_000.0]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    headers = await token("operator")
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 200
    await _revoke(db, headers)
    # Documented: each API process trusts a token it has checked for token_cache_s seconds.
    now[0] += cache.ttl / 2
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 200
    now[0] += cache.ttl / 2 + 0.001
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 401
    now[0] += cache.ttl * 10  # and it is not remembered as good again
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 401


async def test_without_the_cache_revocation_is_immediate(client, token, db, app, monkeypatch):
    monkeypatch.setattr(app.state.principals, "ttl", 0)  # HOMECARE_TOKEN_CACHE_S=0
    headers = await token("operator")
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 200
    await _revoke(db, headers)
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 401


async def test_an_unknown_token_is_remembered_as_unknown_for_the_cache_ttl(client, db, app, monkeypatch):
    from service.tokens.models import ApiToken
    from service.tokens.service import hash_token

    cache, lookups = app.state.principals, app.state.token_lookups
    now = [1_000.0]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    headers = {"Authorization": "Bearer hc_made-up-a-moment-too-early"}
    before = lookups.queries
    for _ in range(20):  # a client repeating a bad token asks the database once
        assert (await client.get("/api/v1/elders", headers=headers)).status_code == 401
    assert lookups.queries == before + 1
    async with db() as session:  # the token comes into existence: it works once the TTL has passed
        session.add(ApiToken(name="late", role="operator", token_hash=hash_token("hc_made-up-a-moment-too-early")))
        await session.commit()
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 401
    now[0] += cache.ttl + 0.001
    assert (await client.get("/api/v1/elders", headers=headers)).status_code == 200


async def test_a_flood_of_random_tokens_does_not_reach_the_database_per_request(client, token, app, monkeypatch):
    """300 requests at once, each with a token never seen: a handful of queries, not 300, and a real token
    asked for among them still works."""
    import asyncio
    import secrets

    import service.tokens.lookups as lookups_module

    calls = []
    real = lookups_module.principals_for

    async def counted(session, hashes, now=None):
        calls.append(len(hashes))
        return await real(session, hashes, now)

    monkeypatch.setattr(lookups_module, "principals_for", counted)
    good = await token("operator")
    floods = [{"Authorization": f"Bearer hc_{secrets.token_urlsafe(32)}"} for _ in range(300)]
    answers = await asyncio.gather(
        *(client.get("/api/v1/elders", headers=h) for h in [*floods[:150], good, *floods[150:]])
    )
    assert [a.status_code for a in answers].count(401) == 300 and answers[150].status_code == 200
    assert sum(calls) == 301 and len(calls) <= 10, calls  # every token asked about once, in a few batches
    again = await asyncio.gather(*(client.get("/api/v1/elders", headers=h) for h in floods[:50]))
    assert {a.status_code for a in again} == {401} and sum(calls) == 301  # remembered as unknown


async def test_the_principal_cache_stays_bounded():
    from service.auth import PrincipalCache
    from service.tokens.service import Principal

    now = [0.0]
    cache = PrincipalCache(5, clock=lambda: now[0])
    cache.MAX_ENTRIES = 3
    principal = Principal(1, "x", "operator")
    for key in "abc":
        cache.put(key, principal)
        cache.put_unknown(key.upper())
    now[0] = 10.0  # all expired: the next put sweeps them
    cache.put("d", principal)
    cache.put_unknown("D")
    assert [cache.get(k) for k in "abcd"] == [None, None, None, principal]
    assert [cache.is_unknown(k) for k in "ABCD"] == [False, False, False, True]
    for key in "efg":  # full of live entries: start over rather than grow
        cache.put(key, principal)
        cache.put_unknown(key.upper())
    assert len(cache._entries) <= cache.MAX_ENTRIES and cache.get("g") == principal
    assert len(cache._unknown) <= cache.MAX_ENTRIES and cache.is_unknown("G")
