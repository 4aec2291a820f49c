"""What every console page needs: templates, the logged-in user, role checks, CSRF, and errors as pages.

A console route answers HTML. Its errors are pages too: a domain error (404, 403, 409, 422) renders the error
page with that status; a missing or dead session sends the browser to /login (htmx: `HX-Redirect`).
"""

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from service.catalogue import SERVICES
from service.deps import transaction
from service.errors import DomainError
from service.users.service import Current, current

HERE = Path(__file__).parent
COOKIE = "hc_session"
LOGIN_CSRF_COOKIE = "hc_login_csrf"
templates = Jinja2Templates(directory=HERE / "templates")
ROLE_NAMES = {"admin": "管理员", "operator": "坐席", "regulator": "监管"}
STATUS_NAMES = {
    "open": "待派",
    "assigned": "已派待接",
    "accepted": "已接单",
    "in_progress": "服务中",
    "completed": "已完成",
    "cancelled": "已取消",
    "unassignable": "无法派单",
    "missed": "未服务",
    "escalated": "已升级",
}
URGENCY_NAMES = {"routine": "一般", "urgent": "紧急", "emergency": "应急"}


def _local(moment: datetime | str | None, fmt: str = "%m-%d %H:%M", tz=None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime(fmt) if tz else moment.strftime(fmt)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


templates.env.filters["pct"] = _percent
templates.env.globals.update(
    SERVICES=SERVICES,
    ROLE_NAMES=ROLE_NAMES,
    STATUS_NAMES=STATUS_NAMES,
    URGENCY_NAMES=URGENCY_NAMES,
    new_key=lambda: secrets.token_urlsafe(16),
)


class LoginNeeded(Exception):
    pass


class PageError(Exception):
    """A console refusal with its status and a Chinese sentence for the error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


TITLES = {403: "无权访问", 404: "未找到", 409: "操作冲突", 422: "输入有误", 503: "系统繁忙"}


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    tz = request.app.state.settings.tz
    live: Current | None = getattr(request.state, "console", None)
    base = {
        "me": live.user if live else None,
        "csrf": live.csrf if live else "",
        "local": lambda m, fmt="%m-%d %H:%M": _local(m, fmt, tz),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "出错了"), "message": message},
        status_code=status,
    )


class ConsoleRoute(APIRoute):
    """Turns the console's refusals into pages (or a trip to the login page)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginNeeded:
                target = "/login?next=" + quote(request.url.path) if request.method == "GET" else "/login"
                if request.headers.get("HX-Request"):
                    return Response(status_code=401, headers={"HX-Redirect": target})
                return RedirectResponse(target, status_code=303)
            except PageError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError:
                # An id that is not a number, a month that is no month: the object named does not exist.
                return error_page(request, 404, "没有这个页面或对象")
            except DomainError as exc:
                message = {404: "没有这个对象", 403: "超出您的权限或辖区"}.get(exc.status, exc.detail)
                return error_page(request, exc.status, message)

        return console_handler


async def _console_user(request: Request) -> Current:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise LoginNeeded
    async with transaction(request.app.state.sessions) as session:
        live = await current(session, cookie, request.app.state.settings)
    if live is None:
        raise LoginNeeded
    request.state.console = live
    return live


async def _csrf_checked(request: Request, live: Annotated[Current, Depends(_console_user)]) -> Current:
    """Every state-changing console request carries the session's CSRF token: a form field or a header."""
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        sent = (await request.form()).get("csrf")
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), live.csrf.encode()):
        raise PageError(403, "表单已失效（缺少或错误的安全令牌），请刷新页面后重试")
    return live


def role(*roles: str, write: bool = False):
    """The logged-in user, of one of `roles` (403 page otherwise); with `write`, also CSRF-checked."""
    base = _csrf_checked if write else _console_user

    async def check(live: Annotated[Current, Depends(base)]) -> Current:
        if live.user.role not in roles:
            raise PageError(403, "您的角色无权打开此页面")
        return live

    return check


Anyone = Annotated[Current, Depends(role("admin", "operator", "regulator"))]
AnyoneWrites = Annotated[Current, Depends(role("admin", "operator", "regulator", write=True))]
Seat = Annotated[Current, Depends(role("admin", "operator"))]
SeatWrites = Annotated[Current, Depends(role("admin", "operator", write=True))]
Desk = Annotated[Current, Depends(role("admin", "regulator"))]
DeskWrites = Annotated[Current, Depends(role("admin", "regulator", write=True))]
AdminPage = Annotated[Current, Depends(role("admin"))]
AdminWrites = Annotated[Current, Depends(role("admin", write=True))]


def field_errors(exc: DomainError) -> dict[str, str]:
    """A refusal's errors by field (the first part of a dotted name), for the form to show beside each."""
    errors: dict[str, str] = {}
    for item in exc.errors or []:
        errors.setdefault(str(item.get("field", "")).split(".")[0], item.get("reason", ""))
    if not errors:
        errors["_"] = exc.detail
    return errors


def pydantic_errors(exc) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in exc.errors():
        loc = [str(p) for p in item["loc"] if p not in ("body",)]
        errors.setdefault(loc[0] if loc else "_", CHINESE.get(item["type"], item["msg"]))
    return errors


CHINESE = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "太长",
    "int_parsing": "须为整数",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "literal_error": "请选择列表中的一项",
    "int_from_float": "须为整数",
    "value_error": "格式不对",
    "date_from_datetime_parsing": "日期格式须为 YYYY-MM-DD",
    "date_parsing": "日期格式须为 YYYY-MM-DD",
    "int_type": "须为整数",
    "string_pattern_mismatch": "格式不对",
}
