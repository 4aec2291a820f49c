"""Month close (关账): an admin or the area's regulator signs off an area's month once it is over.

The summary and the settlement are frozen as they stand at that moment, with their SHA-256; the
report for that month is from then on the signed one, and later corrections go to the next report.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.audit.service import record_change
from service.db import flush_or_conflict, utcnow
from service.errors import Conflict, Invalid
from service.months import month_bounds
from service.reports.late import closed_above, find_closure
from service.reports.models import MonthClose
from service.reports.schemas import Closure
from service.reports.scope import ReportArea, area_by_code, may_see, report_area
from service.reports.settlement import build_settlement
from service.reports.summary import build_summary
from service.settings import Settings
from service.tokens.service import Principal
from service.validation import AreaCode, Body, Month


class CloseMonth(Body):
    month: Month
    area: AreaCode | None = Field(
        default=None, description="The area whose month is closed; a regulator's own by default"
    )


class ClosurePublic(BaseModel):
    area_code: str
    month: str
    closed_at: datetime
    closed_by: str
    sha256: str = Field(description="The frozen summary's digest")
    settlement_sha256: str = Field(description="The frozen settlement's digest")


def public(row: MonthClose, settings: Settings) -> ClosurePublic:
    return ClosurePublic(
        area_code=row.area_code,
        month=row.month,
        closed_by=row.closed_by,
        sha256=row.sha256,
        closed_at=row.closed_at.astimezone(settings.tz),
        settlement_sha256=row.settlement["sha256"],
    )


async def close_month(
    session: AsyncSession, data: CloseMonth, principal: Principal, settings: Settings
) -> ClosurePublic:
    area = await report_area(session, principal, data.area)
    if area.code is None:
        raise Invalid.field("area", "name the area whose month is to be closed")
    now = utcnow()
    _, end = month_bounds(data.month, settings.tz)
    if now < end:
        opens = end.astimezone(settings.tz).isoformat()
        raise Conflict(f"{data.month} is not over; it can be closed from {opens}")
    existing = await find_closure(session, area.code, data.month)
    if existing is not None:
        raise Conflict(
            f"{data.month} of area {area.code} was closed at "
            f"{existing.closed_at.astimezone(settings.tz).isoformat()} by {existing.closed_by}"
        )
    above = await closed_above(session, area.code, data.month)
    if above is not None:
        raise Conflict(
            f"{data.month} of area {area.code} was closed with area {above.area_code} at "
            f"{above.closed_at.astimezone(settings.tz).isoformat()} by {above.closed_by}"
        )
    closure = Closure(closed_at=now.astimezone(settings.tz), closed_by=principal.actor)
    row = await _freeze(session, area, data.month, settings, now, closure, principal.actor)
    # The tiers below close with it, frozen at the same moment, so a street's signed report agrees with
    # its district's (a tier closed earlier keeps its own closure).
    below = await _tiers_below(session, area, data.month)
    for code in below:
        await _freeze(session, await area_by_code(session, code), data.month, settings, now, closure, principal.actor)
    record_change(
        session,
        actor=principal.actor,
        action="month.close",
        entity="month_close",
        entity_id=f"{area.code}:{data.month}",
        at=now,
        after={"sha256": row.sha256, "settlement_sha256": row.settlement["sha256"], "with": below},
    )
    # Committed with its Idempotency-Key's answer.
    await flush_or_conflict(session, f"{data.month} of area {area.code} was closed a moment ago by another")
    return public(row, settings)


async def _freeze(
    session: AsyncSession, area: ReportArea, month: str, settings: Settings, now, closure: Closure, actor: str
) -> MonthClose:
    summary = await build_summary(session, area, month, settings, now=now, closure=closure)
    payable = await build_settlement(session, area, month, settings, now=now, closure=closure)
    row = MonthClose(
        area_code=area.code,
        month=month,
        closed_at=now,
        closed_by=actor,
        sha256=summary.sha256,
        summary=summary.model_dump(mode="json"),
        settlement=payable.model_dump(mode="json"),
    )
    session.add(row)
    return row


async def _tiers_below(session: AsyncSession, area: ReportArea, month: str) -> list[str]:
    """The districts (of a city) and streets below the area that have not been closed for the month."""
    query = select(Area.code).where(
        col(Area.level).in_(("county", "street")),
        Area.code != area.code,
        or_(*(col(Area.code).startswith(p) for p in area.prefixes)),
    )
    closed = select(MonthClose.area_code).where(MonthClose.month == month)
    return list((await session.exec(query.where(col(Area.code).not_in(closed)).order_by(Area.code))).all())


async def list_closures(
    session: AsyncSession, principal: Principal, settings: Settings, *, area: str | None, month: str | None
) -> list[ClosurePublic]:
    query = select(MonthClose).order_by(MonthClose.month, MonthClose.area_code)
    if area is not None:
        query = query.where(MonthClose.area_code == area)
    if month is not None:
        query = query.where(MonthClose.month == month)
    rows = (await session.exec(query)).all()
    return [public(row, settings) for row in rows if await may_see(session, principal, row.area_code)]
