"""The admin's pages: users, app/device tokens (a revoked token's next call is 401), providers, prices, areas."""

from __future__ import annotations

from sqlmodel import select

from service.providers.models import Provider
from service.reports.models import ServicePrice
from service.users.models import UserAccount
from tests.console.helpers import csrf, log_in, make_user
from tests.factories import provider_body


async def _admin(client, db):
    await make_user(db, "boss", "admin")
    await log_in(client, "boss")
    return await csrf(client, "/console/admin/users")


async def _users(db) -> list[str]:
    async with db() as session:
        return [u.username for u in (await session.exec(select(UserAccount).order_by(UserAccount.id))).all()]


async def test_an_admin_creates_an_operator_who_can_log_in(client, db):
    token_ = await _admin(client, db)
    response = await client.post(
        "/console/admin/users",
        data={
            "csrf": token_,
            "username": "wang",
            "display_name": "王坐席",
            "role": "operator",
            "centre": "六甲调度中心",
            "password": "seat-pass-12",
        },
    )
    assert response.status_code == 201 and "已创建用户 wang" in response.text
    assert (await log_in(client, "wang", "seat-pass-12")).headers["location"] == "/console/seat"
    assert "六甲调度中心" in (await client.get("/console/seat")).text


async def test_refused_user_forms_name_the_field_keep_the_values_and_write_nothing(client, db):
    token_ = await _admin(client, db)
    cases = [
        ({"username": "a b"}, "用户名"),
        ({"role": "provider"}, "角色"),
        ({"password": "short"}, "至少 8 位"),
        ({"role": "regulator"}, "辖区"),
        ({"role": "regulator", "area_code": "999999"}, "没有区划代码"),
        ({"area_code": "530111"}, "只有监管人员"),
        ({"username": "boss"}, "用户名已存在"),
    ]
    for change, words in cases:
        form = {
            "csrf": token_,
            "username": "li",
            "display_name": "李四",
            "role": "operator",
            "password": "good-pass-12",
            **change,
        }
        response = await client.post("/console/admin/users", data=form)
        assert response.status_code in (409, 422) and words in response.text, change
        assert 'class="field-error"' in response.text and 'value="李四"' in response.text
    assert await _users(db) == ["boss"]


async def test_an_admin_revokes_a_provider_token_and_its_next_api_call_is_401(client, db, token):
    admin = await token("admin")
    provider = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    token_ = await _admin(client, db)
    bad = await client.post("/console/admin/tokens", data={"csrf": token_, "name": "康乐App", "role": "provider"})
    assert bad.status_code == 422 and "provider" in bad.text
    missing = await client.post(
        "/console/admin/tokens", data={"csrf": token_, "name": "x", "role": "provider", "provider_id": "999999"}
    )
    assert missing.status_code == 422 and "不存在" in missing.text
    made = await client.post(
        "/console/admin/tokens",
        data={"csrf": token_, "name": "康乐App", "role": "provider", "provider_id": str(provider["id"])},
    )
    assert made.status_code == 201
    value = made.text.split('id="new-token"')[1].split("<code>")[1].split("</code>")[0]
    app_headers = {"Authorization": f"Bearer {value}"}
    assert (await client.get("/api/v1/provider/assignments", headers=app_headers)).status_code == 200
    listing = await client.get("/console/admin/tokens")
    assert value not in listing.text and "康乐App" in listing.text
    token_id = int(listing.text.split("康乐App")[0].rsplit('id="token-', 1)[1].split('"')[0])
    assert (await client.post(f"/console/admin/tokens/{token_id}/revoke", data={"csrf": token_})).status_code == 303
    assert (await client.get("/api/v1/provider/assignments", headers=app_headers)).status_code == 401
    assert (await client.post("/console/admin/tokens/999999/revoke", data={"csrf": token_})).status_code == 404


async def test_providers_quota_suspend_and_reinstate(client, db, token):
    admin = await token("admin")
    provider = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    token_ = await _admin(client, db)
    page = await client.get("/console/admin/providers")
    assert page.status_code == 200 and provider["name"] in page.text
    path = f"/console/admin/providers/{provider['id']}"
    form = {
        "csrf": token_,
        "monthly_quota": "abc",
        "contract_start": provider["contract_start"],
        "contract_end": provider["contract_end"],
        "status": "active",
    }
    bad = await client.post(path, data=form)
    assert bad.status_code == 422 and "额度" in bad.text
    backwards = await client.post(path, data={**form, "monthly_quota": "50", "contract_end": "2000-01-01"})
    assert backwards.status_code == 422
    assert (await client.post(path, data={**form, "monthly_quota": "50", "status": "suspended"})).status_code == 303
    async with db() as session:
        row = await session.get(Provider, provider["id"])
        assert (row.monthly_quota, row.status) == (50, "suspended")
    blank = await client.post(f"{path}/reinstate", data={"csrf": token_, "reason": ""})
    assert blank.status_code == 422
    assert (await client.post(f"{path}/reinstate", data={"csrf": token_, "reason": "整改完成"})).status_code == 303
    again = await client.post(f"{path}/reinstate", data={"csrf": token_, "reason": "再次"})
    assert again.status_code == 422 and "未被暂停" in again.text
    assert (
        await client.post("/console/admin/providers/999999", data={**form, "monthly_quota": "5"})
    ).status_code == 404


async def test_prices_and_areas(client, db):
    token_ = await _admin(client, db)
    bad = await client.post(
        "/console/admin/prices",
        data={"csrf": token_, "service": "clean", "unit_price_yuan": "-3", "effective_from": "2026-13-01"},
    )
    assert bad.status_code == 422 and 'value="-3"' in bad.text and bad.text.count('class="field-error"') >= 2
    form = {"csrf": token_, "service": "clean", "unit_price_yuan": "38.50", "effective_from": "2027-01-01", "key": "p1"}
    assert (await client.post("/console/admin/prices", data=form)).status_code == 303
    assert (await client.post("/console/admin/prices", data=form)).status_code == 303  # a double click
    clash = await client.post("/console/admin/prices", data={**form, "key": "p2"})
    assert clash.status_code == 422 and "已有价格版本" in clash.text
    async with db() as session:
        assert len((await session.exec(select(ServicePrice))).all()) == 1
    assert "38.50" in (await client.get("/console/admin/prices")).text
    areas = await client.get("/console/admin/areas")
    assert areas.status_code == 200 and "关上街道" in areas.text
