"""The call log: operators record every call; hang-ups wait in the call-back list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Staff
from service.calls import service
from service.calls.schemas import CallCreate, CallPublic
from service.catalogue import CallType
from service.deps import SessionDep, SettingsDep
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from service.reports.scope import AreaQuery
from service.schemas import Page
from service.seats import checker, seat_area
from service.validation import IdPath, IdQuery, Moment

router = APIRouter(prefix="/api/v1", tags=["calls"])
MomentQuery = Annotated[Moment | None, Query()]


@router.post(
    "/calls",
    status_code=201,
    response_model=CallPublic,
    responses={
        409: {"description": "The Idempotency-Key is in flight"},
        422: {"description": "A field is invalid (named in `errors`), also an unknown elder, request or call"},
    },
)
async def record_call(
    body: CallCreate, session: SessionDep, principal: Staff, settings: SettingsDep, idempotency: IdempotencyDep
):
    """Log a call with its type and outcome (a proactive-care call, a hang-up to call back, a call back…)."""
    in_seat = checker(session, principal)
    return await idempotency.run(
        body, lambda: service.record_call(session, body, principal, settings, in_seat=in_seat), CallPublic
    )


@router.get(
    "/calls",
    response_model=Page[CallPublic],
    responses={403: {"description": "An area outside the seat's own"}, 422: {"description": "Bad query"}},
)
async def list_calls(
    session: SessionDep,
    principal: Staff,
    type: CallType | None = None,
    elder_id: IdQuery = None,
    pending_callback: Annotated[
        bool | None, Query(description="Only calls still to call back (true), or only the others (false)")
    ] = None,
    since: MomentQuery = None,
    until: MomentQuery = None,
    area: AreaQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CallPublic]:
    position = decode_cursor(cursor, "after")
    scope = await seat_area(session, principal, area)
    rows = await service.list_calls(
        session,
        area=scope,
        type_=type,
        elder_id=elder_id,
        pending=pending_callback,
        since=since,
        until=until,
        after=position["after"] if position else None,
        limit=limit,
    )
    more = len(rows) > limit
    return Page(items=rows[:limit], next_cursor=encode_cursor({"after": rows[limit - 1].id}) if more else None)


@router.get("/calls/{call_id}", response_model=CallPublic, responses={404: {"description": "No such call"}})
async def get_call(call_id: IdPath, session: SessionDep, principal: Staff) -> CallPublic:
    in_seat = checker(session, principal)
    return await service.get_call(session, call_id, in_seat=in_seat)
