"""The token register: /me, the admin API (list, create, revoke) and `homecare token list|revoke|demo`."""

from __future__ import annotations

import re

from homecare_cli.main import app as cli_app
from tests.factories import provider_body

LISTED = {"id", "name", "role", "provider_id", "area_code", "gateway_id", "created_at", "last_used_at", "revoked_at"}


async def test_me_tells_a_token_its_identity(client, token):
    admin = await token("admin")
    provider = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    for headers, expected in (
        (admin, {"role": "admin", "provider_id": None, "area_code": None}),
        (await token("provider", provider_id=provider["id"]), {"role": "provider", "provider_id": provider["id"]}),
        (await token("regulator", area_code="530111"), {"role": "regulator", "area_code": "530111"}),
    ):
        me = (await client.get("/api/v1/me", headers=headers)).json()
        assert expected.items() <= me.items() and me["name"].startswith("test-")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_admin_creates_lists_and_revokes_tokens_never_seeing_a_value_again(client, token):
    admin = await token("admin")
    created = await client.post("/api/v1/tokens", json={"name": "seat-12", "role": "operator"}, headers=admin)
    assert created.status_code == 201, created.text
    value = created.json()["token"]
    assert value.startswith("hc_") and set(created.json()) == LISTED | {"token"}
    seat = {"Authorization": f"Bearer {value}"}
    assert (await client.get("/api/v1/me", headers=seat)).json()["role"] == "operator"

    listed = (await client.get("/api/v1/tokens", headers=admin)).json()
    assert all(set(item) == LISTED for item in listed["items"]) and value not in str(listed)
    mine = next(item for item in listed["items"] if item["id"] == created.json()["id"])
    assert mine["last_used_at"] is not None and mine["revoked_at"] is None  # looked up once, stamped

    revoked = await client.post(f"/api/v1/tokens/{mine['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    # In the process that revoked it, at once (others: within HOMECARE_TOKEN_CACHE_S).
    assert (await client.get("/api/v1/me", headers=seat)).status_code == 401
    again = await client.post(f"/api/v1/tokens/{mine['id']}/revoke", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (await client.post("/api/v1/tokens/999999/revoke", headers=admin)).status_code == 404

    live = (await client.get("/api/v1/tokens", params={"revoked": "false"}, headers=admin)).json()["items"]
    gone = (await client.get("/api/v1/tokens", params={"revoked": "true"}, headers=admin)).json()["items"]
    assert mine["id"] in {t["id"] for t in gone} and mine["id"] not in {t["id"] for t in live}


async def test_the_token_api_is_for_admins_and_checks_bindings(client, token):
    admin, operator = await token("admin"), await token("operator")
    assert (await client.get("/api/v1/tokens", headers=operator)).status_code == 403
    created = await client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=operator)
    assert created.status_code == 403
    assert (await client.post("/api/v1/tokens/1/revoke", headers=operator)).status_code == 403
    assert (await client.get("/api/v1/tokens")).status_code == 401
    for body, status, field in (
        ({"name": "x", "role": "provider"}, 422, "provider_id"),
        ({"name": "x", "role": "regulator"}, 422, "area_code"),
        ({"name": "x", "role": "admin", "area_code": "530111"}, 422, "area_code"),
        ({"name": "x", "role": "gateway"}, 422, "gateway_id"),
        ({"name": "x", "role": "operator", "gateway_id": 1}, 422, "gateway_id"),
        ({"name": "x", "role": "gateway", "gateway_id": 999999}, 404, None),
        ({"name": "x", "role": "operator", "area_code": "110101"}, 404, None),
        ({"name": "x", "role": "wizard"}, 422, "role"),
        ({"name": "x", "role": "operator", "token_hash": "0" * 64}, 422, "token_hash"),
        ({"name": "x", "role": "provider", "provider_id": 999999}, 404, None),
        ({"name": "x", "role": "regulator", "area_code": "110101"}, 404, None),
    ):
        response = await client.post("/api/v1/tokens", json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
        if field:
            assert field in {e["field"] for e in response.json()["errors"]}, response.json()


async def test_the_token_list_pages(client, token):
    admin = await token("admin")
    for n in range(4):
        await client.post("/api/v1/tokens", json={"name": f"seat-{n}", "role": "operator"}, headers=admin)
    seen, cursor = [], None
    for _ in range(5):
        page = (
            await client.get(
                "/api/v1/tokens", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=admin
            )
        ).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)


def test_token_demo_list_and_revoke_from_the_shell(cli):
    assert cli.invoke(cli_app, ["token", "demo"]).exit_code == 2  # nothing loaded yet: no provider 1 ...
    listed = cli.invoke(cli_app, ["token", "list"])
    assert listed.exit_code == 0 and len(listed.stdout.strip().splitlines()) == 1  # ... and no token made
    assert cli.invoke(cli_app, ["seed", "guandu", "--elders", "20"]).exit_code == 0
    exports = []
    for _ in range(2):  # `make run` again: a fresh set, the earlier one revoked
        result = cli.invoke(cli_app, ["token", "demo"])
        assert result.exit_code == 0, result.output
        assert re.fullmatch(r"export ADMIN=hc_\S+ OPERATOR=hc_\S+ PROVIDER=hc_\S+ REGULATOR=hc_\S+\n", result.stdout)
        exports.append(result.stdout)
    live = cli.invoke(cli_app, ["token", "list", "--live"]).stdout
    assert len(live.strip().splitlines()) == 1 + 4 and "provider 1" in live and "area 530111" in live
    everything = cli.invoke(cli_app, ["token", "list"]).stdout
    assert len(everything.strip().splitlines()) == 1 + 8
    assert not any(value in everything for value in re.findall(r"hc_\S+", "".join(exports)))
    first_id = everything.strip().splitlines()[-1].split()[0]
    revoked = cli.invoke(cli_app, ["token", "revoke", first_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert len(cli.invoke(cli_app, ["token", "list", "--live"]).stdout.strip().splitlines()) == 1 + 3
    missing = cli.invoke(cli_app, ["token", "revoke", "99999"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
