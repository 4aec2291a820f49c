"""The day's proactive-care list (主动关爱) for operators; the calls they make are logged at POST /calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Staff
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from service.proactive.schemas import CareList
from service.proactive.service import care_list
from service.reports.scope import AreaQuery
from service.seats import seat_area
from service.validation import Day

router = APIRouter(prefix="/api/v1", tags=["proactive care"])


@router.get(
    "/proactive-care",
    response_model=CareList,
    responses={
        403: {"description": "An area outside the seat's own"},
        422: {"description": "Bad query (also a future date)"},
    },
)
async def proactive_care(
    session: SessionDep,
    principal: Staff,
    settings: SettingsDep,
    date: Annotated[Day | None, Query(description="The day (Asia/Shanghai); default today")] = None,
    days: Annotated[
        int | None, Query(ge=1, le=90, description="Days without contact; default HOMECARE_PROACTIVE_CARE_DAYS (7)")
    ] = None,
    area: AreaQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> CareList:
    """Elders to call today: living alone or 80+ without contact, with a silent device, or with a birthday."""
    position = decode_cursor(cursor, "after")
    now = utcnow()
    day = date or now.astimezone(settings.tz).date()
    days = days or settings.proactive_care_days
    scope = await seat_area(session, principal, area)
    as_of, items = await care_list(
        session,
        settings,
        day=day,
        days=days,
        area=scope,
        after=position["after"] if position else None,
        limit=limit,
        now=now,
    )
    more = len(items) > limit
    return CareList(
        date=day,
        as_of=as_of,
        days=days,
        items=items[:limit],
        next_cursor=encode_cursor({"after": items[limit - 1].elder.id}) if more else None,
    )
