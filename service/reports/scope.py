"""Which elders a report covers, and who may ask for it.

A regulator's token is bound to an area code: it sees that area and everything below it, and a
request for any other area is 403 (before the area is even looked up, so it learns nothing). A city
(460100 海口市) does not prefix its districts' codes (460105…460108), so a city stands for the codes of
its counties.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.areas.service import require_area
from service.errors import Forbidden, Invalid
from service.months import month_bounds
from service.tokens.service import Principal
from service.validation import AreaCode

AreaQuery = Annotated[AreaCode | None, Query(description="Area code (6, 9 or 12 digits); a regulator's own by default")]
EVERYWHERE_NAME = "全部地区"


@dataclass(frozen=True)
class ReportArea:
    """The area a report covers: `code` None means the whole system (admins only)."""

    code: str | None
    name: str
    prefixes: tuple[str, ...] = ()

    def covers(self, area_code: ColumnElement) -> ColumnElement:
        if not self.prefixes:
            return true()
        return or_(*(area_code.startswith(prefix) for prefix in self.prefixes))


EVERYWHERE = ReportArea(None, EVERYWHERE_NAME)


async def _is_within(session: AsyncSession, scope: str, code: str) -> bool:
    """True when `code` is `scope` or lies below it in the division tree."""
    if code.startswith(scope):
        return True
    area = await session.get(Area, code)
    while area is not None and area.parent_code is not None:
        if area.parent_code == scope:
            return True
        area = await session.get(Area, area.parent_code)
    return False


async def _prefixes(session: AsyncSession, area: Area) -> tuple[str, ...]:
    if area.level != "city":
        return (area.code,)
    counties = (await session.exec(select(Area.code).where(Area.parent_code == area.code))).all()
    return tuple(counties) or (area.code,)


async def area_by_code(session: AsyncSession, code: str | None) -> ReportArea:
    if code is None:
        return EVERYWHERE
    area = await require_area(session, code, field="area")
    return ReportArea(area.code, area.name, await _prefixes(session, area))


async def report_area(session: AsyncSession, principal: Principal, code: str | None) -> ReportArea:
    """The area asked for, checked against the asker: a regulator defaults to, and is held to, its own."""
    if principal.role == "regulator":
        code = code or principal.area_code
        if not await _is_within(session, principal.area_code, code):
            raise Forbidden(f"your token covers area {principal.area_code}; area {code} is outside it")
    return await area_by_code(session, code)


async def may_see(session: AsyncSession, principal: Principal, code: str) -> bool:
    return principal.role != "regulator" or await _is_within(session, principal.area_code, code)


async def streets_of(session: AsyncSession, area: ReportArea) -> dict[str, str]:
    """Street code -> name, for every street the area covers (or the street a community lies in)."""
    query = select(Area.code, Area.name).where(Area.level == "street")
    if area.prefixes:
        query = query.where(
            or_(
                *(col(Area.code).startswith(p) for p in area.prefixes),
                col(Area.code).in_([p[:9] for p in area.prefixes if len(p) > 9]),
            )
        )
    return dict((await session.exec(query.order_by(Area.code))).all())


def require_begun(month: str, tz, now: datetime) -> tuple[datetime, datetime]:
    """The month's [start, end) in UTC; a month that has not begun has nothing to report (422)."""
    start, end = month_bounds(month, tz)
    if start > now:
        raise Invalid.field("month", f"{month} has not begun yet")
    return start, end
