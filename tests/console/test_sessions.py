"""Logging in and out: Argon2 passwords, database sessions, timeouts, CSRF, throttling, roles, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from service.audit.models import AuditEvent
from service.lifecycle.models import ServiceRequest
from service.users.models import ConsoleSession, UserAccount
from tests.console.helpers import PASSWORD, csrf, csrf_of, log_in, make_user
from tests.factories import elder_body


async def test_root_leads_to_the_login_page_and_pages_need_a_session(client, db):
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    login = await client.get("/login")
    assert login.status_code == 200 and "登录" in login.text and 'lang="zh-CN"' in login.text
    for path in ("/console/seat", "/console/supervision", "/console/admin/users"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    htmx = await client.get("/console/board", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


async def test_a_login_sets_an_httponly_samesite_cookie_and_leads_home(client, db):
    await make_user(db, "op", "operator")
    response = await log_in(client, "op")
    assert response.status_code == 303 and response.headers["location"] == "/console/seat"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("hc_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert (await client.get("/")).headers["location"] == "/console/seat"
    async with db() as session:
        stored = (await session.exec(select(UserAccount))).one().password_hash
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        sessions = (await session.exec(select(ConsoleSession))).all()
        assert len(sessions) == 1 and sessions[0].token_hash != client.cookies["hc_session"]


async def test_the_cookie_is_secure_when_the_console_is_served_over_https(client, db, app):
    await make_user(db, "op", "operator")
    page = await client.get("/login")
    app.state.settings = app.state.settings.model_copy(update={"console_https": True})
    try:
        response = await client.post(
            "/login", data={"username": "op", "password": PASSWORD, "csrf": csrf_of(page.text)}
        )
    finally:
        app.state.settings = app.state.settings.model_copy(update={"console_https": False})
    assert response.status_code == 303
    assert any("Secure" in h for h in response.headers.get_list("set-cookie") if h.startswith("hc_session="))


async def test_a_login_form_without_its_token_is_403_and_a_next_elsewhere_is_ignored(client, db):
    await make_user(db, "op", "operator")
    response = await client.post("/login", data={"username": "op", "password": PASSWORD, "csrf": "x"})
    assert response.status_code == 403 and "hc_session" not in client.cookies
    page = await client.get("/login?next=//evil.example/")
    assert 'name="next" value=""' in page.text
    response = await client.post(
        "/login",
        data={"username": "op", "password": PASSWORD, "csrf": csrf_of(page.text), "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/console/seat"


async def test_logout_ends_the_session_and_the_old_cookie_goes_to_the_login_page(client, db):
    await make_user(db, "op", "operator")
    await log_in(client, "op")
    cookie = client.cookies["hc_session"]
    token = await csrf(client)
    response = await client.post("/logout", data={"csrf": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("hc_session", cookie)
    response = await client.get("/console/seat")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    async with db() as session:
        actions = [
            e.action
            for e in (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()
            if e.action.startswith("user.log")
        ]
    assert actions == ["user.login", "user.logout"]


async def test_idle_and_absolute_timeouts_end_a_session(client, db, settings):
    await make_user(db, "op", "operator")
    for column, age in (
        ("last_seen_at", timedelta(minutes=settings.console_idle_min + 1)),
        ("created_at", timedelta(hours=settings.console_absolute_h, minutes=1)),
    ):
        await log_in(client, "op")
        assert (await client.get("/console/seat")).status_code == 200
        async with db() as session:
            row = (await session.exec(select(ConsoleSession).where(ConsoleSession.ended_at.is_(None)))).one()
            await session.exec(
                update(ConsoleSession).where(ConsoleSession.id == row.id).values({column: getattr(row, column) - age})
            )
            await session.commit()
        response = await client.get("/console/seat")
        assert response.status_code == 303, column
        async with db() as session:
            assert (await session.get(ConsoleSession, row.id)).ended_at is not None


async def test_wrong_passwords_lock_the_account_even_against_the_right_one(client, db, settings):
    await make_user(db, "op", "operator")
    for _ in range(settings.login_max_failures):
        response = await log_in(client, "op", "wrong-password")
        assert response.status_code == 401 and "用户名或密码错误" in response.text
        assert 'value="op"' in response.text  # what was typed stays (not the password)
    response = await log_in(client, "op")
    assert response.status_code == 401 and "锁定" in response.text and "hc_session" not in client.cookies
    # an unknown name is refused in the same words
    assert "用户名或密码错误" in (await log_in(client, "nobody", "whatever")).text
    async with db() as session:
        failed = (await session.exec(select(AuditEvent).where(AuditEvent.action == "user.login_failed"))).all()
    assert len(failed) == settings.login_max_failures + 2
    assert {e.after["reason"] for e in failed} == {"bad_password", "locked"}


async def test_an_address_with_too_many_failures_is_locked_for_every_account(client, db, settings):
    await make_user(db, "op", "operator")
    tries = settings.login_max_failures * settings.login_address_factor
    for i in range(tries):
        await log_in(client, f"guess{i}", "wrong-password")
    response = await log_in(client, "op")
    assert response.status_code == 401 and "锁定" in response.text


async def test_a_reset_password_unlocks_and_a_disabled_user_cannot_log_in(client, db, settings):
    op = await make_user(db, "op", "operator")
    await make_user(db, "boss", "admin")
    for _ in range(settings.login_max_failures):
        await log_in(client, "op", "wrong-password")
    await log_in(client, "boss")
    token = await csrf(client, "/console/admin/users")
    response = await client.post(f"/console/admin/users/{op}/password", data={"csrf": token, "password": "short"})
    assert response.status_code == 422 and "至少 8 位" in response.text
    response = await client.post(
        f"/console/admin/users/{op}/password", data={"csrf": token, "password": "another-pass-1"}
    )
    assert response.status_code == 200
    assert (await log_in(client, "op", "another-pass-1")).status_code == 303
    operator_cookie = client.cookies["hc_session"]
    await log_in(client, "boss")
    token = await csrf(client, "/console/admin/users")
    await client.post(f"/console/admin/users/{op}/disable", data={"csrf": token})
    client.cookies.set("hc_session", operator_cookie)
    assert (await client.get("/console/seat")).status_code == 303  # the session ended with the account
    response = await log_in(client, "op", "another-pass-1")
    assert response.status_code == 401 and "停用" in response.text


async def test_a_state_changing_post_without_the_csrf_token_is_403_and_writes_nothing(client, db, token):
    admin = await token("admin")
    elder = (await client.post("/api/v1/elders", json=elder_body(), headers=admin)).json()
    await make_user(db, "op", "operator")
    await log_in(client, "op")
    path = f"/console/elders/{elder['id']}/requests"
    for extra in ({}, {"csrf": "forged"}):
        response = await client.post(path, data={"service": "clean", "urgency": "routine", **extra})
        assert response.status_code == 403 and "安全令牌" in response.text
    response = await client.post(path, data={"service": "clean"}, headers={"X-CSRF-Token": "forged"})
    assert response.status_code == 403
    assert (await client.post("/logout", data={})).status_code == 403
    async with db() as session:
        assert (await session.exec(select(ServiceRequest))).all() == []


async def test_each_role_gets_the_403_page_outside_its_pages(client, db):
    await make_user(db, "op", "operator")
    await make_user(db, "reg", "regulator", area_code="530111")
    await log_in(client, "op")
    for path in (
        "/console/supervision",
        "/console/supervision/exceptions",
        "/console/admin/users",
        "/console/admin/tokens",
        "/console/supervision/download/monthly?format=csv",
    ):
        response = await client.get(path)
        assert response.status_code == 403 and "无权" in response.text, path
    await log_in(client, "reg")
    for path in ("/console/seat", "/console/board", "/console/follow-ups", "/console/admin/providers"):
        assert (await client.get(path)).status_code == 403, path
