"""The admin's pages: console users, app/device tokens, providers (quota, suspend, reinstate), prices, areas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import select

from service.areas.models import Area
from service.console import forms, gateway
from service.console.web import AdminPage, AdminWrites, ConsoleRoute, PageError, field_errors, render
from service.errors import DomainError
from service.providers.schemas import ProviderUpdate
from service.quality.service import ReinstateBody
from service.reports.prices import PriceCreate
from service.tokens.router import TokenCreate
from service.users.service import create_user, list_users, reset_password, set_disabled

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=300)]


def _refusal(exc: DomainError) -> dict[str, str]:
    """A refusal the form shows beside its fields; anything else (the object in the path is unknown: 404)
    is the error page."""
    if exc.status not in (409, 422):
        raise exc
    return field_errors(exc)


# Users ----------------------------------------------------------------------------------------------------------


async def _users_page(
    request: Request,
    form: dict | None = None,
    errors: dict | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    async with gateway.database(request) as session:
        users = await list_users(session)
    return render(
        request,
        "users.html",
        {
            "section": "users",
            "users": users,
            "form": form or {"role": "operator"},
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/users")
async def users(request: Request, live: AdminPage) -> Response:
    return await _users_page(request)


@router.post("/users")
async def add_user(
    request: Request,
    live: AdminWrites,
    username: Text = "",
    display_name: Text = "",
    role: Text = "",
    area_code: Text = "",
    centre: Text = "",
    password: Text = "",
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role, "area_code": area_code, "centre": centre}
    try:
        async with gateway.database(request) as session:
            user = await create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                area_code=area_code.strip() or None,
                centre=centre,
                actor=live.principal.actor,
            )
    except DomainError as exc:
        return await _users_page(request, form, _refusal(exc), status_code=exc.status)
    return await _users_page(request, notice=f"已创建用户 {user.username}", status_code=201)


@router.post("/users/{user_id}/disable")
async def disable(request: Request, live: AdminWrites, user_id: int) -> Response:
    if user_id == live.user.id:
        raise PageError(409, "不能停用自己的账号")
    async with gateway.database(request) as session:
        await set_disabled(session, user_id, True, actor=live.principal.actor)
    return RedirectResponse("/console/admin/users", status_code=303)


@router.post("/users/{user_id}/enable")
async def enable(request: Request, live: AdminWrites, user_id: int) -> Response:
    async with gateway.database(request) as session:
        await set_disabled(session, user_id, False, actor=live.principal.actor)
    return RedirectResponse("/console/admin/users", status_code=303)


@router.post("/users/{user_id}/password")
async def new_password(request: Request, live: AdminWrites, user_id: int, password: Text = "") -> Response:
    try:
        async with gateway.database(request) as session:
            user = await reset_password(session, user_id, password, actor=live.principal.actor)
    except DomainError as exc:
        errors = _refusal(exc)
        return await _users_page(
            request, errors={f"password-{user_id}": errors.get("password", exc.detail)}, status_code=exc.status
        )
    return await _users_page(request, notice=f"已重置 {user.username} 的密码，其登录已失效")


# Tokens ---------------------------------------------------------------------------------------------------------


async def _tokens_page(
    request: Request, live, form: dict | None = None, errors: dict | None = None, created=None, status_code: int = 200
) -> Response:
    rows = await gateway.tokens(request, live)
    return render(
        request,
        "tokens.html",
        {
            "section": "tokens",
            "tokens": rows,
            "form": form or {"role": "provider"},
            "errors": errors or {},
            "created": created,
        },
        status_code=status_code,
    )


@router.get("/tokens")
async def tokens(request: Request, live: AdminPage) -> Response:
    return await _tokens_page(request, live)


@router.post("/tokens")
async def add_token(
    request: Request, live: AdminWrites, name: Text = "", role: Text = "", provider_id: Text = "", area_code: Text = ""
) -> Response:
    form = {"name": name, "role": role, "provider_id": provider_id, "area_code": area_code}
    body, errors = forms.body(
        TokenCreate,
        {
            "name": name.strip(),
            "role": role,
            "provider_id": forms.number(provider_id.strip()),
            "area_code": area_code.strip(),
        },
    )
    if body is None:
        return await _tokens_page(request, live, form, errors, status_code=422)
    try:
        created = await gateway.create_token(request, live, body)
    except DomainError as exc:
        if exc.status == 404:  # the provider or area typed in the form does not exist
            field = "provider_id" if body.provider_id is not None else "area_code"
            return await _tokens_page(request, live, form, {field: "不存在"}, status_code=422)
        return await _tokens_page(request, live, form, _refusal(exc), status_code=exc.status)
    # The value is on this page once, never again (only its hash is stored): no redirect that would lose it.
    return await _tokens_page(request, live, created=created, status_code=201)


@router.post("/tokens/{token_id}/revoke")
async def revoke(request: Request, live: AdminWrites, token_id: int) -> Response:
    await gateway.revoke_token(request, live, token_id)
    return RedirectResponse("/console/admin/tokens", status_code=303)


# Providers ------------------------------------------------------------------------------------------------------


async def _providers_page(
    request: Request, live, errors: dict | None = None, failed: int | None = None, status_code: int = 200
) -> Response:
    rows = await gateway.providers(request, live)
    return render(
        request,
        "providers.html",
        {"section": "providers", "providers": rows, "errors": errors or {}, "failed": failed},
        status_code=status_code,
    )


@router.get("/providers")
async def providers(request: Request, live: AdminPage) -> Response:
    return await _providers_page(request, live)


@router.post("/providers/{provider_id}")
async def change_provider(
    request: Request,
    live: AdminWrites,
    provider_id: int,
    monthly_quota: Text = "",
    contract_start: Text = "",
    contract_end: Text = "",
    status: Text = "",
) -> Response:
    """Quota and contract dates; `status=suspended` suspends (a suspended provider gets no new work)."""
    body, errors = forms.body(
        ProviderUpdate,
        {
            "monthly_quota": forms.number(monthly_quota.strip()),
            "contract_start": contract_start.strip(),
            "contract_end": contract_end.strip(),
            "status": status,
        },
    )
    errors = await forms.submit(body, errors, lambda: gateway.update_provider(request, live, provider_id, body))
    if errors:
        return await _providers_page(request, live, errors, provider_id, status_code=422)
    return RedirectResponse("/console/admin/providers", status_code=303)


@router.post("/providers/{provider_id}/reinstate")
async def reinstate(request: Request, live: AdminWrites, provider_id: int, reason: Text = "") -> Response:
    body, errors = forms.body(ReinstateBody, {"reason": reason.strip()})
    errors = await forms.submit(
        body,
        errors,
        lambda: gateway.reinstate_provider(request, live, provider_id, body),
        conflict={"reason": "该服务商未被暂停"},
    )
    if errors:
        message = "；".join(errors.values())
        return await _providers_page(
            request, live, {"_": f"服务商 {provider_id} 未能恢复：{message}"}, provider_id, status_code=422
        )
    return RedirectResponse("/console/admin/providers", status_code=303)


# Prices and areas -----------------------------------------------------------------------------------------------


async def _prices_page(request: Request, live, form=None, errors=None, status_code: int = 200) -> Response:
    rows = await gateway.prices(request, live)
    return render(
        request,
        "prices.html",
        {"section": "prices", "prices": rows, "form": form or {}, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/prices")
async def prices(request: Request, live: AdminPage) -> Response:
    return await _prices_page(request, live)


@router.post("/prices")
async def add_price(
    request: Request,
    live: AdminWrites,
    service: Text = "",
    unit_price_yuan: Text = "",
    effective_from: Text = "",
    key: Text = "",
) -> Response:
    form = {"service": service, "unit_price_yuan": unit_price_yuan, "effective_from": effective_from}
    body, errors = forms.body(PriceCreate, {k: v.strip() for k, v in form.items()})
    errors = await forms.submit(
        body,
        errors,
        lambda: gateway.add_price(request, live, body, key),
        conflict={"effective_from": "该日已有价格版本，或该日所在月份已关账"},
    )
    if errors:
        return await _prices_page(request, live, form, errors, status_code=422)
    return RedirectResponse("/console/admin/prices", status_code=303)


@router.get("/areas")
async def areas(request: Request, live: AdminPage) -> Response:
    async with gateway.database(request) as session:
        rows = (await session.exec(select(Area).where(Area.level != "community").order_by(Area.code))).all()
        communities = dict(
            (
                await session.exec(
                    select(Area.parent_code, func.count()).where(Area.level == "community").group_by(Area.parent_code)
                )
            ).all()
        )
    return render(request, "areas.html", {"section": "areas", "areas": rows, "communities": communities})
