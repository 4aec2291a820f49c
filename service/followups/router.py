"""Operators' follow-up calls (回访) and the queue of whom to call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service.auth import Staff
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.followups import service
from service.followups.queue import follow_up_queue
from service.followups.schemas import FollowUpCreate, FollowUpPublic, QueueItem
from service.idempotency.service import IdempotencyDep
from service.months import month_of
from service.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from service.reports.scope import AreaQuery, area_by_code
from service.schemas import Page
from service.validation import IdPath, Month

router = APIRouter(prefix="/api/v1", tags=["follow-ups"])
QueueMonth = Annotated[Month | None, Query(description="Visits of this month; by default the current one")]


@router.post(
    "/visits/{visit_id}/follow-up",
    status_code=201,
    response_model=FollowUpPublic,
    responses={
        404: {"description": "No such visit"},
        409: {
            "description": "The visit already has its follow-up, is still in progress, "
            "or the Idempotency-Key is in flight"
        },
        422: {"description": "A field is invalid (named in `errors`)"},
    },
)
async def record_follow_up(
    visit_id: IdPath, body: FollowUpCreate, session: SessionDep, principal: Staff, idempotency: IdempotencyDep
) -> JSONResponse:
    """Record the elder's satisfaction (1-5) and any complaint; one follow-up per visit."""
    return await idempotency.run(
        body, lambda: service.record_follow_up(session, visit_id, body, principal), FollowUpPublic
    )


@router.get("/follow-ups/queue", response_model=Page[QueueItem])
async def queue(
    session: SessionDep,
    _: Staff,
    settings: SettingsDep,
    month: QueueMonth = None,
    area: AreaQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[QueueItem]:
    """Visits still to call, riskiest first: exceptions, new providers, then a random sample."""
    position = decode_cursor(cursor, "tier", "draw", "after")
    after = (position["tier"], position["draw"], position["after"]) if position else None
    scope = await area_by_code(session, area)
    month = month or month_of(utcnow(), settings.tz)
    rows = await follow_up_queue(session, settings, month=month, area=scope, after=after, limit=limit)
    next_cursor = None
    if len(rows) > limit:
        tier, draw, visit_id = rows[limit - 1][1]
        next_cursor = encode_cursor({"tier": tier, "draw": draw, "after": visit_id})
    return Page(items=[item for item, _ in rows[:limit]], next_cursor=next_cursor)
