"""The price table: unit prices per service as versions with effective dates (local days).

A visit is priced by the version in effect on the local day of its check-in. Versions are only
added: a new price starts on its date and leaves every earlier day as it was, and a version may
not start inside a month that an area has already closed, because that month has been signed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.catalogue import ServiceCode
from service.db import flush_or_conflict
from service.errors import Conflict
from service.months import first_day, next_month
from service.reports.labels import service_label
from service.reports.models import MonthClose, ServicePrice
from service.tokens.service import Principal
from service.validation import Body, Day


def yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


class PriceCreate(Body):
    service: ServiceCode
    # Text ("38.50") or a JSON number: the decimal is exact either way, and both are common for money.
    unit_price_yuan: Decimal = Field(
        ge=0,
        le=100000,
        max_digits=8,
        decimal_places=2,
        strict=False,
        allow_inf_nan=False,
        description="Yuan per verified visit, at most two decimals",
    )
    effective_from: Day = Field(description="First local day (Asia/Shanghai) the price applies")


class PricePublic(BaseModel):
    id: int
    service: str
    service_label: str
    unit_price_yuan: Decimal
    effective_from: date
    created_by: str
    created_at: datetime


def public(row: ServicePrice) -> PricePublic:
    return PricePublic(
        id=row.id,
        service=row.service,
        service_label=service_label(row.service),
        unit_price_yuan=yuan(row.unit_price_fen),
        effective_from=row.effective_from,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class PriceVersion:
    service: str
    effective_from: date
    fen: int


class PriceBook:
    def __init__(self, versions: list[PriceVersion]) -> None:
        self._by_service: dict[str, list[PriceVersion]] = {}
        for version in sorted(versions, key=lambda v: v.effective_from):
            self._by_service.setdefault(version.service, []).append(version)

    def on(self, service: str, day: date) -> PriceVersion | None:
        versions = self._by_service.get(service, [])
        index = bisect.bisect_right([v.effective_from for v in versions], day) - 1
        return versions[index] if index >= 0 else None

    def changes_within(self, month: str) -> list[date]:
        """Days inside the month (after its first) on which some price changes."""
        start, end = first_day(month), first_day(next_month(month))
        return sorted(
            {v.effective_from for vs in self._by_service.values() for v in vs if start < v.effective_from < end}
        )


async def price_book(session: AsyncSession) -> PriceBook:
    rows = (
        await session.exec(select(ServicePrice.service, ServicePrice.effective_from, ServicePrice.unit_price_fen))
    ).all()
    return PriceBook([PriceVersion(*row) for row in rows])


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


async def list_prices(session: AsyncSession, service: str | None) -> list[PricePublic]:
    query = select(ServicePrice).order_by(ServicePrice.service, ServicePrice.effective_from)
    if service:
        query = query.where(ServicePrice.service == service)
    return [public(row) for row in (await session.exec(query)).all()]


async def add_price(session: AsyncSession, data: PriceCreate, principal: Principal) -> PricePublic:
    last_closed = (await session.exec(select(func.max(MonthClose.month)))).one()
    if last_closed is not None and data.effective_from < first_day(next_month(last_closed)):
        raise Conflict(
            f"{last_closed} is closed and its settlement signed; a new price may start on "
            f"{first_day(next_month(last_closed)).isoformat()} at the earliest"
        )
    taken = (
        await session.exec(
            select(ServicePrice.id).where(
                ServicePrice.service == data.service, col(ServicePrice.effective_from) == data.effective_from
            )
        )
    ).first()
    clash = f"{data.service} already has a price from {data.effective_from.isoformat()}"
    if taken is not None:
        raise Conflict(clash)
    row = ServicePrice(
        service=data.service,
        effective_from=data.effective_from,
        unit_price_fen=int(data.unit_price_yuan * 100),
        created_by=principal.actor,
    )
    session.add(row)
    version = f"{data.service}@{data.effective_from.isoformat()}"
    record_change(
        session,
        actor=principal.actor,
        action="price.create",
        entity="service_price",
        entity_id=version,
        after={"unit_price_fen": row.unit_price_fen},
    )
    await flush_or_conflict(session, clash)  # committed with its Idempotency-Key's answer
    return public(row)
