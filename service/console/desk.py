"""The regulator's desk (监管): the month's summary for the official's area with charts and drill-down,
downloads, the exceptions list, month close and provider quality. Everything is read through the API's own
report handlers (gateway.py), so the figures, the scope (403 outside one's area) and the files are the API's."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from service.areas.models import Area
from service.console import charts, forms, gateway
from service.console.web import ConsoleRoute, Desk, DeskWrites, PageError, render
from service.db import utcnow
from service.errors import DomainError
from service.months import month_of, previous_month
from service.reports.closing import CloseMonth
from service.reports.labels import EXCEPTION_LABELS
from service.reports.scope import may_see
from service.validation import AreaCode, Month

router = APIRouter(prefix="/console/supervision", route_class=ConsoleRoute, include_in_schema=False)
MonthQ = Annotated[Month | None, Query()]
AreaQ = Annotated[AreaCode | None, Query()]
DOWNLOADS = {"monthly": ("csv", "xlsx", "pdf"), "exceptions": ("csv",), "settlement": ("csv", "xlsx")}


def _this_month(request: Request) -> str:
    return month_of(utcnow(), request.app.state.settings.tz)


async def _trail(request: Request, live, code: str | None) -> tuple[list[Area], list[Area]]:
    """The area's ancestors the user may see (the breadcrumb) and its children (the drill-down)."""
    async with gateway.database(request) as session:
        trail: list[Area] = []
        area = await session.get(Area, code) if code else None
        while area is not None and await may_see(session, live.principal, area.code):
            trail.insert(0, area)
            area = await session.get(Area, area.parent_code) if area.parent_code else None
        query = select(Area).where(Area.parent_code == code) if code else select(Area).where(Area.parent_code.is_(None))  # type: ignore[union-attr]
        children = [a for a in (await session.exec(query.order_by(Area.code))).all() if a.level != "community"]
    return trail, children


@router.get("")
async def summary_page(request: Request, live: Desk, month: MonthQ = None, area: AreaQ = None) -> Response:
    month = month or _this_month(request)
    summary = await gateway.summary(request, live, month, area)
    code = summary["area"]["code"]
    trail, children = await _trail(request, live, code)
    return render(
        request,
        "desk.html",
        {
            "section": "desk",
            "s": summary,
            "month": month,
            "area": code,
            "charts": charts.summary_charts(summary),
            "trail": trail,
            "children": children,
            "downloads": DOWNLOADS,
            "months": [month, previous_month(month), previous_month(previous_month(month))],
        },
    )


@router.get("/download/{kind}")
async def download(
    request: Request,
    live: Desk,
    kind: Literal["monthly", "exceptions", "settlement"],
    fmt: Annotated[Literal["csv", "xlsx", "pdf"], Query(alias="format")],
    month: MonthQ = None,
    area: AreaQ = None,
) -> Response:
    """The API's file, authorised by the session (no token in the URL)."""
    if fmt not in DOWNLOADS[kind]:
        raise PageError(404, "没有这种格式的下载")
    return await gateway.download(request, live, kind, fmt, month or _this_month(request), area)


@router.get("/exceptions")
async def exceptions_page(
    request: Request,
    live: Desk,
    month: MonthQ = None,
    area: AreaQ = None,
    code: Annotated[str, Query(max_length=40)] = "",
    provider: Annotated[str, Query(max_length=100)] = "",
    street: Annotated[str, Query(max_length=12)] = "",
    day: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    month = month or _this_month(request)
    report = await gateway.exceptions(request, live, month, area)
    items = report["items"]
    providers = sorted({(i["provider_id"], i["provider_name"]) for i in items}, key=lambda p: p[1])
    if code:
        items = [i for i in items if code in i["exceptions"]]
    if provider:
        items = [i for i in items if str(i["provider_id"]) == provider]
    if street:
        items = [i for i in items if i["area_code"].startswith(street)]
    if day:
        items = [i for i in items if i["check_in_at"][:10] == day]
    return render(
        request,
        "exceptions.html",
        {
            "section": "exceptions",
            "report": report,
            "items": items[:500],
            "shown": len(items),
            "month": month,
            "area": report["area"]["code"],
            "labels": EXCEPTION_LABELS,
            "providers": providers,
            "filters": {"code": code, "provider": provider, "street": street, "day": day},
        },
    )


async def _close_page(
    request: Request, live, month: str, area: str | None, errors: dict | None = None, status_code: int = 200
) -> Response:
    summary = await gateway.summary(request, live, month, area)
    return render(
        request,
        "close.html",
        {"section": "desk", "s": summary, "month": month, "area": summary["area"]["code"], "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/close")
async def close_confirm(request: Request, live: Desk, month: MonthQ = None, area: AreaQ = None) -> Response:
    """What closing will freeze: the summary's figures and digest, shown before the official confirms."""
    return await _close_page(request, live, month or previous_month(_this_month(request)), area)


@router.post("/close")
async def close(
    request: Request,
    live: DeskWrites,
    month: Annotated[str, Form()] = "",
    area: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    body, _errors = forms.body(CloseMonth, {"month": month, "area": area})
    if body is None:
        raise PageError(422, "月份或区划无效")
    try:
        await gateway.close_month(request, live, body, key)
    except DomainError as exc:
        if exc.status != 409:
            raise
        return await _close_page(request, live, month, area or None, errors={"_": _conflict(exc)}, status_code=409)
    return RedirectResponse(f"/console/supervision?month={month}&area={area}", status_code=303)


def _conflict(exc: DomainError) -> str:
    text = exc.detail
    if "was closed" in text:
        return "该月已关账"
    if "is not over" in text:
        return "该月尚未结束，不能关账"
    return text


@router.get("/quality")
async def quality(request: Request, live: Desk, month: MonthQ = None) -> Response:
    month = month or previous_month(_this_month(request))
    rows = await gateway.quality(request, live, month)
    return render(
        request,
        "quality.html",
        {
            "section": "quality",
            "rows": rows,
            "month": month,
            "months": [previous_month(_this_month(request)), _this_month(request)],
        },
    )
