"""Corrections to closed months: what changed after a month was signed off, and where it is listed.

A correction made during month N to an earlier month M that was already closed (a phone's late
check-out upload, a late check-in, a follow-up call recorded after the close) is listed in month N's
report, and settled in month N. Two facts make this exact without keeping per-visit history:
- a visit's `updated_at` moves on every change, so "changed after the close" is a comparison;
- `verified` is final (a visit is checked out once; the sweep only flags visits still in progress),
  so a visit verified now that changed after the close was not verified, and not paid, at the close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import Conflict
from service.lifecycle.models import ServiceRequest
from service.months import month_bounds, month_of
from service.reports.figures import visit_requests
from service.reports.models import MonthClose
from service.reports.scope import ReportArea
from service.visits.models import FollowUp, Visit


@dataclass(frozen=True)
class LateChange:
    month: str
    kind: str  # "visit" | "follow_up"
    visit_id: int
    provider_id: int
    service: str
    status: str
    exceptions: list[str]
    satisfaction: int | None
    check_in_at: datetime
    recorded_at: datetime


async def find_closure(session: AsyncSession, area_code: str | None, month: str) -> MonthClose | None:
    if area_code is None:
        return None
    return (
        await session.exec(select(MonthClose).where(MonthClose.area_code == area_code, MonthClose.month == month))
    ).first()


async def closed_above(session: AsyncSession, area_code: str | None, month: str) -> MonthClose | None:
    """The closure of the month by a tier above the area (its street or district), if any. Streets and
    districts are frozen with the tier that closed them; a community is not a supervision tier and is not."""
    if area_code is None:
        return None
    above = [area_code[:n] for n in (6, 9) if len(area_code) > n]
    if not above:
        return None
    return (
        await session.exec(
            select(MonthClose)
            .where(col(MonthClose.area_code).in_(above), MonthClose.month == month)
            .order_by(MonthClose.area_code)
        )
    ).first()


async def refuse_closed_above(session: AsyncSession, area_code: str | None, month: str) -> None:
    """409 for a community's figures of a month its street or district closed: they were not frozen, and
    live ones would disagree with the signed tiers above."""
    above = await closed_above(session, area_code, month)
    if above is not None:
        raise Conflict(
            f"{month} was closed for area {above.area_code}, which area {area_code} lies in; "
            f"its signed figures are in the report of area {above.area_code}"
        )


def _closed_windows(closures: list[tuple[str, datetime]], tz: ZoneInfo):
    """Per closed month: its visits, changed after its close."""
    conditions = []
    for month, closed_at in closures:
        start, end = month_bounds(month, tz)
        conditions.append(
            and_(col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end, col(Visit.updated_at) > closed_at)
        )
    return conditions


async def late_changes(session: AsyncSession, area: ReportArea, month: str, tz: ZoneInfo) -> list[LateChange]:
    """Corrections made during `month` to the area's months closed before it."""
    if area.code is None:
        return []
    start, end = month_bounds(month, tz)
    closures = (
        await session.exec(
            select(MonthClose.month, MonthClose.closed_at).where(
                MonthClose.area_code == area.code, MonthClose.month < month, col(MonthClose.closed_at) < end
            )
        )
    ).all()
    if not closures:
        return []
    visit_columns = (
        Visit.id,
        Visit.provider_id,
        ServiceRequest.service,
        Visit.status,
        Visit.exceptions,
        Visit.check_in_at,
    )
    visits = visit_requests(area, *visit_columns, Visit.updated_at).where(
        or_(*_closed_windows(closures, tz)), col(Visit.updated_at) >= start, col(Visit.updated_at) < end
    )
    changes = [
        LateChange(month_of(row[5], tz), "visit", row[0], row[1], row[2], row[3], list(row[4]), None, row[5], row[6])
        for row in (await session.exec(visits)).all()
    ]
    follow_ups = []
    for closed_month, closed_at in closures:
        closed_start, closed_end = month_bounds(closed_month, tz)
        follow_ups.append(
            and_(
                col(Visit.check_in_at) >= closed_start,
                col(Visit.check_in_at) < closed_end,
                col(FollowUp.created_at) > closed_at,
            )
        )
    calls = (
        visit_requests(area, *visit_columns, FollowUp.satisfaction, FollowUp.created_at)
        .join(FollowUp, col(FollowUp.visit_id) == Visit.id)
        .where(or_(*follow_ups), col(FollowUp.created_at) >= start, col(FollowUp.created_at) < end)
    )
    changes += [
        LateChange(
            month_of(row[5], tz), "follow_up", row[0], row[1], row[2], row[3], list(row[4]), row[6], row[5], row[7]
        )
        for row in (await session.exec(calls)).all()
    ]
    return sorted(changes, key=lambda c: (c.recorded_at, c.visit_id, c.kind))
