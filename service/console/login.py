"""Logging in and out, and `/`: the way into the console."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from service.console.gateway import database
from service.console.web import COOKIE, LOGIN_CSRF_COOKIE, AnyoneWrites, ConsoleRoute, PageError, render
from service.users.service import LoginRefused, current, log_in, log_out

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
HOME = {"operator": "/console/seat", "regulator": "/console/supervision", "admin": "/console/supervision"}


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never `//host` or a scheme): the login page must not send users elsewhere."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    username: str = "",
    next_: str = "",
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    """The login form carries a fresh token that must come back both as a field and as a cookie (a login
    form posted from another site has no way to read the cookie)."""
    token = secrets.token_urlsafe(24)
    page = render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "username": username, "next": next_, "notice": notice},
        status_code=status_code,
    )
    page.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=request.app.state.settings.console_https,
    )
    return page


@router.get("/")
async def root(request: Request) -> Response:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        async with database(request) as session:
            live = await current(session, cookie, request.app.state.settings)
        if live is not None:
            return RedirectResponse(HOME[live.user.role], status_code=303)
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_=_safe_next(next) or "")


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf or not expected or not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise PageError(403, "登录表单已失效，请刷新页面后重新登录")
    if not username or not password:
        return _login_page(request, error="请输入用户名和密码", username=username, next_=next, status_code=422)
    settings = request.app.state.settings
    address = request.client.host if request.client else "-"
    async with database(request) as session:
        try:
            new = await log_in(session, username, password, address, settings)
        except LoginRefused as refused:
            return _login_page(request, error=refused.message, username=username, next_=next, status_code=401)
    response = RedirectResponse(_safe_next(next) or HOME[new.user.role], status_code=303)
    response.set_cookie(
        COOKIE,
        new.cookie,
        httponly=True,
        samesite="lax",
        secure=settings.console_https,
        path="/",
        max_age=int(settings.console_absolute_h * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, live: AnyoneWrites) -> Response:
    async with database(request) as session:
        await log_out(session, live)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
