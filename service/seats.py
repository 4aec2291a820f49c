"""Which area a call-centre seat or a regulator works in.

A regulator's token is bound to an area; so may an operator's be (a street's or a district's 12349 seat,
docs/api.md § Roles), while an unbound operator (the city's seat) and an admin see everything. Lists are held
to the seat's area (403 for another, like the regulator's reports); a single object outside it is 404.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel.ext.asyncio.session import AsyncSession

from service.reports.scope import ReportArea, area_by_code, may_see, report_area
from service.tokens.service import Principal


def bound(principal: Principal) -> bool:
    return principal.role in ("regulator", "operator") and principal.area_code is not None


def _as_regulator(principal: Principal) -> Principal:
    # An area-bound seat is held to its area exactly as a regulator is (service/reports/scope.py).
    return replace(principal, role="regulator")


async def seat_area(session: AsyncSession, principal: Principal, code: str | None) -> ReportArea:
    """The area a list covers: the one asked for (default: the seat's own), within the seat's area."""
    if not bound(principal):
        return await area_by_code(session, code)
    return await report_area(session, _as_regulator(principal), code)


async def sees(session: AsyncSession, principal: Principal, area_code: str | None) -> bool:
    """Whether the seat may see an object of this area (an object of no area: only unbound seats)."""
    if not bound(principal):
        return True
    return area_code is not None and await may_see(session, _as_regulator(principal), area_code)


def checker(session: AsyncSession, principal: Principal):
    """`sees` for this seat, as the services take it: `await in_seat(area_code)`."""

    async def in_seat(area_code: str | None) -> bool:
        return await sees(session, principal, area_code)

    return in_seat
