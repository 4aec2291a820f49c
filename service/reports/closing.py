"""Month close (关账): an admin or the area's regulator signs off an area's month once it is over.

The summary and the settlement are frozen as they stand at that moment, with their SHA-256; the
report for that month is from then on the signed one, and later corrections go to the next report.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.db import flush_or_conflict, utcnow
from service.errors import Conflict, Invalid
from service.months import month_bounds
from service.reports.late import find_closure
from service.reports.models import MonthClose
from service.reports.schemas import Closure
from service.reports.scope import may_see, report_area
from service.reports.settlement import build_settlement
from service.reports.summary import build_summary
from service.settings import Settings
from service.tokens.service import Principal
from service.validation import AreaCode, Body, Month


class CloseMonth(Body):
    month: Month
    area: AreaCode | None = Field(default=None,
                                  description="The area whose month is closed; a regulator's own by default")


class ClosurePublic(BaseModel):
    area_code: str
    month: str
    closed_at: datetime
    closed_by: str
    sha256: str = Field(description="The frozen summary's digest")
    settlement_sha256: str = Field(description="The frozen settlement's digest")


def public(row: MonthClose, settings: Settings) -> ClosurePublic:
    return ClosurePublic(area_code=row.area_code, month=row.month, closed_by=row.closed_by, sha256=row.sha256,
                         closed_at=row.closed_at.astimezone(settings.tz),
                         settlement_sha256=row.settlement["sha256"])


async def close_month(session: AsyncSession, data: CloseMonth, principal: Principal,
                      settings: Settings) -> ClosurePublic:
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
        raise Conflict(f"{data.month} of area {area.code} was closed at "
                       f"{existing.closed_at.astimezone(settings.tz).isoformat()} by {existing.closed_by}")
    closure = Closure(closed_at=now.astimezone(settings.tz), closed_by=principal.actor)
    summary = await build_summary(session, area, data.month, settings, now=now, closure=closure)
    payable = await build_settlement(session, area, data.month, settings, now=now, closure=closure)
    row = MonthClose(area_code=area.code, month=data.month, closed_at=now, closed_by=principal.actor,
                     sha256=summary.sha256, summary=summary.model_dump(mode="json"),
                     settlement=payable.model_dump(mode="json"))
    session.add(row)
    record_change(session, actor=principal.actor, action="month.close", entity="month_close",
                  entity_id=f"{area.code}:{data.month}", at=now,
                  after={"sha256": summary.sha256, "settlement_sha256": payable.sha256})
    # Committed with its Idempotency-Key's answer.
    await flush_or_conflict(session, f"{data.month} of area {area.code} was closed a moment ago by another")
    return public(row, settings)


async def list_closures(session: AsyncSession, principal: Principal, settings: Settings, *,
                        area: str | None, month: str | None) -> list[ClosurePublic]:
    query = select(MonthClose).order_by(MonthClose.month, MonthClose.area_code)
    if area is not None:
        query = query.where(MonthClose.area_code == area)
    if month is not None:
        query = query.where(MonthClose.month == month)
    rows = (await session.exec(query)).all()
    return [public(row, settings) for row in rows if await may_see(session, principal, row.area_code)]
