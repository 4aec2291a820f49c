"""The operator's seat (坐席工作台): caller search, the elder card, one-action requests, the live dispatch board,
request detail, and the follow-up queue (回访)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from service.console import forms, gateway
from service.console.queries import BOARD_COLUMNS, board, card_history, search_elders
from service.console.web import ConsoleRoute, PageError, Seat, SeatWrites, field_errors, render
from service.db import utcnow
from service.elders.service import get_elder, to_public
from service.errors import DomainError
from service.escalation.schemas import AssignBody
from service.followups.schemas import FollowUpCreate
from service.months import month_of
from service.reports.labels import EXCEPTION_LABELS
from service.requests.schemas import CancelBody, RequestCreate
from service.validation import Month, is_month

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
EXPLAIN_REASONS = {
    "service_not_offered": "不提供该服务",
    "area_not_contracted": "未签约该区域",
    "too_far": "距离过远",
    "quota_exhausted": "本月额度已用完",
    "no_emergency_service": "不提供应急服务",
    "declined": "已拒单",
    "no_eligible_provider": "没有符合条件的服务商",
}
RISKS = {"exception": "异常服务", "new_provider": "新服务商", "sample": "随机抽查"}
CHANNELS = {"phone": "电话", "one_touch": "一键通", "app": "应用", "plan": "月度计划"}
ALERTS = {
    "sos": "一键呼救",
    "fall": "跌倒",
    "smoke": "烟雾",
    "gas": "燃气",
    "water": "漏水",
    "inactivity": "久未活动",
    "health": "健康异常",
    "other": "其他报警",
}
RELATIONS = {
    "spouse": "配偶",
    "child": "子女",
    "relative": "亲属",
    "guardian": "监护人",
    "neighbour": "邻居",
    "other": "其他",
}
WHY_NOT = {
    "is suspended": "已停用",
    "does not offer the service": "不提供该服务",
    "not under contract": "不在合同期或没有服务站",
}  # the API's words (service/escalation/service.py)
ASSIGNABLE = ("open", "assigned", "escalated")  # what an operator may hand to a provider (docs/api.md)


def _today_start(request: Request) -> datetime:
    tz = request.app.state.settings.tz
    return datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)


@router.get("/seat")
async def seat(request: Request, live: Seat, q: Annotated[str, Query(max_length=50)] = "") -> Response:
    found = await _matches(request, q)
    if len(found) == 1:  # Enter on a unique match opens the card
        return RedirectResponse(f"/console/elders/{found[0].id}", status_code=303)
    return render(
        request,
        "seat.html",
        {"section": "seat", "q": q, "found": found, "searched": bool(q.strip()), "columns": BOARD_COLUMNS},
    )


@router.get("/seat/search")
async def search(request: Request, live: Seat, q: Annotated[str, Query(max_length=50)] = "") -> Response:
    """As the operator types: the matches (htmx fragment)."""
    return render(request, "_results.html", {"found": await _matches(request, q), "searched": bool(q.strip()), "q": q})


async def _matches(request: Request, q: str) -> list:
    if not q.strip():
        return []
    async with gateway.database(request) as session:
        return await search_elders(session, q)


@router.get("/board")
async def live_board(request: Request, live: Seat) -> Response:
    """The escalation queue, then today's requests by status; the seat polls it every second (htmx)."""
    queue = await gateway.escalations(request, live)
    async with gateway.database(request) as session:
        columns = await board(session, _today_start(request))
    return render(
        request,
        "_board.html",
        {"columns": BOARD_COLUMNS, "board": columns, "queue": queue, "alerts": ALERTS, "relations": RELATIONS},
    )


async def _card(
    request: Request,
    live,
    elder_id: int,
    *,
    form: dict | None = None,
    errors: dict | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    settings = request.app.state.settings
    async with gateway.database(request) as session:
        row = await get_elder(session, elder_id)
        elder = to_public(row, live.principal)  # the API's masking
        history = await card_history(session, elder_id, month_of(utcnow(), settings.tz), settings.tz)
    today = datetime.now(settings.tz).date()
    birth = row.id_number[6:14]  # the age only, never the masked digits
    age = None
    if birth.isdigit():
        born = datetime.strptime(birth, "%Y%m%d").date()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return render(
        request,
        "elder.html",
        {
            "section": "seat",
            "elder": elder,
            "age": age,
            "history": history,
            "form": form or {"service": "emergency", "urgency": "emergency"},
            "errors": errors or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/elders/{elder_id}")
async def elder_card(request: Request, live: Seat, elder_id: int) -> Response:
    return await _card(request, live, elder_id)


@router.post("/elders/{elder_id}/requests")
async def register(
    request: Request,
    live: SeatWrites,
    elder_id: int,
    service: Annotated[str, Form()] = "",
    urgency: Annotated[str, Form()] = "routine",
    note: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    """One action: the request (or emergency) is registered and dispatched at once; a refusal keeps the form."""
    form = {"service": service, "urgency": urgency, "note": note}
    body, errors = forms.body(RequestCreate, {"elder_id": elder_id, **form, "channel": "phone"})
    if body is None:
        return await _card(request, live, elder_id, form=form, errors=errors, status_code=422)
    try:
        created = await gateway.register_request(request, live, body, key)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        return await _card(request, live, elder_id, form=form, errors=field_errors(exc), status_code=exc.status)
    return RedirectResponse(f"/console/requests/{created['id']}", status_code=303)


async def _request_page(
    request: Request,
    live,
    request_id: int,
    *,
    form: dict | None = None,
    errors: dict | None = None,
    status_code: int = 200,
) -> Response:
    detail, explanation = await gateway.request_detail(request, live, request_id)
    ranking = await gateway.candidates(request, live, request_id) if detail.status in ASSIGNABLE else None
    async with gateway.database(request) as session:
        elder = to_public(await get_elder(session, detail.elder_id), live.principal)
    return render(
        request,
        "request.html",
        {
            "section": "seat",
            "r": detail,
            "elder": elder,
            "decision": explanation.decision,
            "reasons": EXPLAIN_REASONS,
            "channels": CHANNELS,
            "alerts": ALERTS,
            "error": request.query_params.get("error"),
            "ranking": ranking,
            "form": form or {},
            "errors": errors or {},
            "assigned": request.query_params.get("assigned"),
        },
        status_code=status_code,
    )


@router.get("/requests/{request_id}")
async def request_page(request: Request, live: Seat, request_id: int) -> Response:
    return await _request_page(request, live, request_id)


def _assign_refusal(exc: DomainError, override: bool) -> dict[str, str]:
    """The API's refusal of a manual assignment, in Chinese beside the field it names."""
    if exc.status == 409:
        return {"_": "该工单已接单、服务中或已结束，不能改派"}
    if exc.status == 404:
        return {"provider_id": "没有这个服务商"}
    errors = field_errors(exc)
    if "override" in errors:
        return {"override": "只有应急工单可以超出常规范围指派"}
    if "provider_id" in errors:
        why = next((name for code, name in {**EXPLAIN_REASONS, **WHY_NOT}.items() if code in errors["provider_id"]), "")
        hint = "" if override else "；应急工单可勾选“超出常规范围”"
        return {"provider_id": f"该服务商按规则不能接此工单{f'（{why}）' if why else ''}{hint}"}
    return errors


@router.post("/requests/{request_id}/assign")
async def assign(
    request: Request,
    live: SeatWrites,
    request_id: int,
    provider_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    override: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    """An operator hands the request to a provider by hand (the API's assign, with the form's key); a refusal
    keeps the form and writes nothing."""
    form = {"provider_id": provider_id, "reason": reason, "override": bool(override)}
    body, errors = forms.body(
        AssignBody,
        {"provider_id": forms.number(provider_id.strip()), "reason": reason.strip(), "override": bool(override)},
    )
    status = 422
    if body is not None:
        try:
            await gateway.assign(request, live, request_id, body, key)
        except DomainError as exc:
            if exc.status not in (404, 409, 422) or (exc.status == 404 and "provider" not in exc.detail):
                raise
            errors, status = _assign_refusal(exc, bool(override)), 409 if exc.status == 409 else 422
    if errors:
        return await _request_page(request, live, request_id, form=form, errors=errors, status_code=status)
    return RedirectResponse(f"/console/requests/{request_id}?assigned=1", status_code=303)


@router.post("/requests/{request_id}/cancel")
async def cancel(request: Request, live: SeatWrites, request_id: int, reason: Annotated[str, Form()] = "") -> Response:
    body, errors = forms.body(CancelBody, {"reason": reason.strip()})
    if body is None:
        raise PageError(422, "取消原因：" + next(iter(errors.values())))
    try:
        await gateway.cancel_request(request, live, request_id, body)
    except DomainError as exc:
        if exc.status != 409:
            raise
        raise PageError(409, "该工单已在服务中、已完成或已取消，不能取消") from None
    return RedirectResponse(f"/console/requests/{request_id}", status_code=303)


@router.get("/follow-ups")
async def follow_ups(
    request: Request, live: Seat, done: int | None = None, month: Annotated[Month | None, Query()] = None
) -> Response:
    """The month's visits to call back (the current month by default), riskiest first."""
    page = await gateway.follow_up_queue(request, live, month, None)
    notice = f"已记录回访（服务记录 {done}）" if done else None
    return render(
        request,
        "follow_ups.html",
        {
            "section": "follow",
            "items": page.items,
            "risks": RISKS,
            "labels": EXCEPTION_LABELS,
            "notice": notice,
            "errors": {},
            "form": {},
            "month": month,
        },
    )


@router.post("/follow-ups/{visit_id}")
async def record(
    request: Request,
    live: SeatWrites,
    visit_id: int,
    satisfaction: Annotated[str, Form()] = "",
    complaint: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
) -> Response:
    month_ = month if is_month(month) else None
    body, errors = forms.body(FollowUpCreate, {"satisfaction": forms.number(satisfaction), "complaint": complaint})
    errors = await forms.submit(body, errors, lambda: gateway.record_follow_up(request, live, visit_id, body, key))
    if errors:
        page = await gateway.follow_up_queue(request, live, month_, None)
        return render(
            request,
            "follow_ups.html",
            {
                "section": "follow",
                "items": page.items,
                "risks": RISKS,
                "labels": EXCEPTION_LABELS,
                "notice": None,
                "errors": errors,
                "month": month_,
                "failed": visit_id,
                "form": {"satisfaction": satisfaction, "complaint": complaint},
            },
            status_code=422,
        )
    back = f"&month={month_}" if month_ else ""
    return RedirectResponse(f"/console/follow-ups?done={visit_id}{back}", status_code=303)
