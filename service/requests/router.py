"""Operators' requests and devices' alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.auth import Staff
from service.catalogue import Urgency
from service.deps import SessionDep, SettingsDep, after_commit
from service.devices import service as devices
from service.dispatching.wakeup import wake_dispatcher
from service.idempotency.service import IdempotencyDep, IdempotencyKeyHeader, route_of
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.requests import intake, service
from service.requests.schemas import (
    AlertCreate,
    CancelBody,
    Explanation,
    RequestCreate,
    RequestDetail,
    RequestPublic,
)
from service.schemas import Page
from service.validation import IdPath, IdQuery, Month

router = APIRouter(prefix="/api/v1", tags=["requests"])
NOT_FOUND = {404: {"description": "No such request"}}
StatusQuery = Annotated[
    str | None,
    Query(pattern="^(open|assigned|accepted|in_progress|completed|cancelled|unassignable|missed|escalated)$"),
]


@router.post(
    "/requests",
    status_code=201,
    response_model=RequestDetail,
)
async def create_request(body: RequestCreate, request: Request, principal: Staff, key: IdempotencyKeyHeader = None):
    response, created = await intake.register(request.app.state, body, principal, key, route_of(request))
    if created:
        wake_dispatcher(request.app, emergency=body.urgency == "emergency")
    return response


@router.get("/requests", response_model=Page[RequestPublic])
async def list_requests(
    session: SessionDep,
    _: Staff,
    status: StatusQuery = None,
    elder_id: IdQuery = None,
    month: Annotated[Month | None, Query()] = None,
    urgency: Urgency | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[RequestPublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_requests(
        session,
        status=status,
        elder_id=elder_id,
        month=month,
        urgency=urgency,
        after=position["after"] if position else None,
        limit=limit,
    )
    items = [RequestPublic.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return Page(items=items, next_cursor=next_cursor(rows, limit))


@router.get("/requests/{request_id}", response_model=RequestDetail, responses=NOT_FOUND)
async def get_request(request_id: IdPath, session: SessionDep, _: Staff) -> RequestDetail:
    return await service.request_detail(session, await service.get_request(session, request_id))


@router.post(
    "/requests/{request_id}/cancel",
    response_model=RequestDetail,
    responses={**NOT_FOUND, 409: {"description": "Already under way, done or cancelled"}},
)
async def cancel_request(request_id: IdPath, body: CancelBody, session: SessionDep, principal: Staff) -> RequestDetail:
    row = await service.cancel_request(session, request_id, body.reason, principal)
    return await service.request_detail(session, row)


@router.get("/requests/{request_id}/explanation", response_model=Explanation, responses=NOT_FOUND)
async def explain(request_id: IdPath, session: SessionDep, _: Staff) -> Explanation:
    row = await service.get_request(session, request_id)
    return Explanation(request_id=row.id, status=row.status, decision=row.explanation)


@router.post(
    "/alerts",
    status_code=201,
    response_model=RequestDetail,
    responses={200: {"description": "The elder already has live emergency help: that request", "model": RequestDetail}},
)
async def raise_alert(
    body: AlertCreate,
    request: Request,
    session: SessionDep,
    principal: Staff,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
):
    created = False  # merged into a live emergency, or a replayed answer: nothing new to dispatch

    async def create():
        nonlocal created
        device, legacy = (
            (None, True) if body.device_id is None else await devices.registered_device(session, body.device_id)
        )
        # A device of the registry that the elder record does not name raises the alert for its elder.
        asked = (
            body
            if legacy or device is None
            else body.model_copy(update={"device_id": None, "elder_id": device.elder_id})
        )
        row, created = await service.raise_alert(session, asked, principal, settings)
        if device is not None:
            await devices.link_alert(session, device, row.id, body.kind, body.at, joined=not created)
        return service.new_request_detail(row.model_dump()) if created else await service.request_detail(session, row)

    response = await idempotency.run(body, create, RequestDetail, status_code=lambda: 201 if created else 200)
    if created:
        after_commit(session, lambda: wake_dispatcher(request.app, emergency=True))
    return response
