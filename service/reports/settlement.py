"""Settlement (结算): what the government owes each provider for the month's verified visits.

Verified visits are counted by the database per provider, service and price period (a price that
changes mid-month splits the month at local midnight of its first day); each count is multiplied by
the version of the unit price in effect then. Visits of earlier closed months that were verified
only after their close are paid here, as adjustments, because the closed month was paid without them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import case, func, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import utcnow
from service.lifecycle.models import ServiceRequest
from service.months import first_day
from service.providers.models import Provider
from service.reports.digest import sealed
from service.reports.figures import visit_requests
from service.reports.labels import service_label
from service.reports.late import find_closure, late_changes, refuse_closed_above
from service.reports.prices import PriceBook, local_day, price_book, yuan
from service.reports.schemas import SHA256_OF, AreaRef, Closure
from service.reports.scope import ReportArea, require_begun
from service.reports.sql import tune_for_reports
from service.settings import Settings
from service.visits.models import Visit


class SettlementLine(BaseModel):
    provider_id: int
    provider_name: str
    service: str
    service_label: str
    price_from: date | None = Field(description="The price version's first day; None when no price applied")
    unit_price_yuan: Decimal | None
    visits: int
    amount_yuan: Decimal


class Adjustment(BaseModel):
    visit_id: int
    month: str = Field(description="The closed month the visit belongs to")
    provider_id: int
    provider_name: str
    service: str
    service_label: str
    check_in_at: datetime
    verified_at: datetime
    unit_price_yuan: Decimal | None
    amount_yuan: Decimal


class ProviderTotal(BaseModel):
    provider_id: int
    provider_name: str
    visits: int
    amount_yuan: Decimal
    adjustments_yuan: Decimal
    payable_yuan: Decimal


class SettlementTotals(BaseModel):
    visits: int
    amount_yuan: Decimal
    adjustments_yuan: Decimal
    payable_yuan: Decimal


class SettlementReport(BaseModel):
    title: str = "结算单"
    area: AreaRef
    month: str
    timezone: str
    provider_id: int | None = Field(description="The one provider asked for, or None for all")
    generated_at: datetime
    status: Literal["open", "closed"]
    closure: Closure | None
    lines: list[SettlementLine]
    adjustments: list[Adjustment]
    providers: list[ProviderTotal]
    totals: SettlementTotals
    warnings: list[str]
    sha256: str = Field(description=SHA256_OF)


def _period_starts(book: PriceBook, month: str) -> list[date]:
    return [first_day(month), *book.changes_within(month)]


def _price(book: PriceBook, service: str, day: date, warnings: set[str]) -> tuple[date | None, int | None]:
    version = book.on(service, day)
    if version is None:
        warnings.add(f"{service_label(service)}({service}) 在 {day.isoformat()} 没有适用单价，金额按 0 计")
        return None, None
    return version.effective_from, version.fen


def tally(lines: list[SettlementLine], adjustments: list[Adjustment]) -> tuple[list[ProviderTotal], SettlementTotals]:
    names: dict[int, str] = {}
    visits: dict[int, int] = defaultdict(int)
    amounts: dict[int, Decimal] = defaultdict(Decimal)
    extra: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        names[line.provider_id] = line.provider_name
        visits[line.provider_id] += line.visits
        amounts[line.provider_id] += line.amount_yuan
    for adjustment in adjustments:
        names[adjustment.provider_id] = adjustment.provider_name
        extra[adjustment.provider_id] += adjustment.amount_yuan
    zero = Decimal("0.00")
    providers = [
        ProviderTotal(
            provider_id=pid,
            provider_name=names[pid],
            visits=visits[pid],
            amount_yuan=amounts[pid] + zero,
            adjustments_yuan=extra[pid] + zero,
            payable_yuan=amounts[pid] + extra[pid] + zero,
        )
        for pid in sorted(names)
    ]
    totals = SettlementTotals(
        visits=sum(visits.values()),
        amount_yuan=sum(amounts.values(), zero),
        adjustments_yuan=sum(extra.values(), zero),
        payable_yuan=sum(amounts.values(), zero) + sum(extra.values(), zero),
    )
    return providers, totals


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(select(Provider.id, Provider.name).where(col(Provider.id).in_(ids)))
    return dict(rows.all())


async def build_settlement(
    session: AsyncSession,
    area: ReportArea,
    month: str,
    settings: Settings,
    *,
    now: datetime,
    provider_id: int | None = None,
    closure: Closure | None = None,
) -> SettlementReport:
    tz = settings.tz
    start, end = require_begun(month, tz, now)
    await tune_for_reports(session)
    book = await price_book(session)
    starts = _period_starts(book, month)
    boundaries = [datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC) for day in starts[1:]]
    period = (
        case(*((col(Visit.check_in_at) >= b, i + 1) for i, b in reversed(list(enumerate(boundaries)))), else_=0)
        if boundaries
        else literal(0)
    )
    verified = visit_requests(
        area,
        Visit.provider_id.label("provider_id"),
        ServiceRequest.service.label("service"),
        period.label("period"),
        during=(start, end),
    ).where(Visit.status == "verified")
    if provider_id is not None:
        verified = verified.where(Visit.provider_id == provider_id)
    counted = verified.subquery()
    keys = (counted.c.provider_id, counted.c.service, counted.c.period)
    groups = (await session.exec(select(*keys, func.count()).group_by(*keys))).all()
    late = [
        c
        for c in await late_changes(session, area, month, tz)
        if c.kind == "visit" and c.status == "verified" and provider_id in (None, c.provider_id)
    ]
    names = await _names(session, {g[0] for g in groups} | {c.provider_id for c in late})
    warnings: set[str] = set()
    lines = []
    for pid, service, index, visits in sorted(groups, key=lambda g: (g[0], g[1], g[2])):
        price_from, fen = _price(book, service, starts[index], warnings)
        lines.append(
            SettlementLine(
                provider_id=pid,
                provider_name=names[pid],
                service=service,
                service_label=service_label(service),
                price_from=price_from,
                unit_price_yuan=None if fen is None else yuan(fen),
                visits=visits,
                amount_yuan=yuan((fen or 0) * visits),
            )
        )
    adjustments = []
    for change in late:
        _, fen = _price(book, change.service, local_day(change.check_in_at, tz), warnings)
        adjustments.append(
            Adjustment(
                visit_id=change.visit_id,
                month=change.month,
                provider_id=change.provider_id,
                provider_name=names[change.provider_id],
                service=change.service,
                service_label=service_label(change.service),
                check_in_at=change.check_in_at.astimezone(tz),
                verified_at=change.recorded_at.astimezone(tz),
                unit_price_yuan=None if fen is None else yuan(fen),
                amount_yuan=yuan(fen or 0),
            )
        )
    providers, totals = tally(lines, adjustments)
    return sealed(
        SettlementReport(
            area=AreaRef(code=area.code, name=area.name),
            month=month,
            timezone=settings.timezone,
            provider_id=provider_id,
            generated_at=now.astimezone(tz),
            status="closed" if closure else "open",
            closure=closure,
            lines=lines,
            adjustments=adjustments,
            providers=providers,
            totals=totals,
            warnings=sorted(warnings),
            sha256="",
        )
    )


def _one_provider(report: SettlementReport, provider_id: int) -> SettlementReport:
    lines = [line for line in report.lines if line.provider_id == provider_id]
    adjustments = [a for a in report.adjustments if a.provider_id == provider_id]
    providers, totals = tally(lines, adjustments)
    return sealed(
        report.model_copy(
            update={
                "provider_id": provider_id,
                "lines": lines,
                "adjustments": adjustments,
                "providers": providers,
                "totals": totals,
            }
        )
    )


async def settlement(
    session: AsyncSession,
    area: ReportArea,
    month: str,
    settings: Settings,
    *,
    provider_id: int | None = None,
    now: datetime | None = None,
) -> SettlementReport:
    """A closed month is settled as it was signed; an open month as it stands now."""
    closure = await find_closure(session, area.code, month)
    if closure is not None:
        signed = SettlementReport.model_validate(closure.settlement)
        return signed if provider_id is None else _one_provider(signed, provider_id)
    await refuse_closed_above(session, area.code, month)
    return await build_settlement(session, area, month, settings, now=now or utcnow(), provider_id=provider_id)
