"""Monthly quotas held by the database: a unit is taken with one conditional UPDATE or not at all."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from service.dispatching.models import QuotaUsage
from service.providers.models import Provider


async def _ensure_row(session: AsyncSession, provider_id: int, month: str) -> None:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.exec(insert(QuotaUsage).values(provider_id=provider_id, month=month, used=0)
                       .on_conflict_do_nothing())


async def take(session: AsyncSession, provider_id: int, month: str, visits: int = 1) -> bool:
    """Take `visits` units of the provider's quota for the month; False when they would exceed it."""
    if await _take(session, provider_id, month, visits):
        return True
    await _ensure_row(session, provider_id, month)  # the month's first offer for this provider
    return await _take(session, provider_id, month, visits)


async def _take(session: AsyncSession, provider_id: int, month: str, visits: int) -> bool:
    quota = select(Provider.monthly_quota).where(Provider.id == provider_id).scalar_subquery()
    result = await session.exec(
        update(QuotaUsage)
        .where(QuotaUsage.provider_id == provider_id, QuotaUsage.month == month,
               QuotaUsage.used + visits <= quota)
        .values(used=QuotaUsage.used + visits)
        .returning(QuotaUsage.used)
    )
    return result.first() is not None


async def release(session: AsyncSession, provider_id: int, month: str, visits: int = 1) -> None:
    await session.exec(
        update(QuotaUsage)
        .where(QuotaUsage.provider_id == provider_id, QuotaUsage.month == month, QuotaUsage.used >= visits)
        .values(used=QuotaUsage.used - visits)
    )


async def used_by_provider(session: AsyncSession, month: str) -> dict[int, int]:
    rows = await session.exec(select(QuotaUsage.provider_id, QuotaUsage.used).where(QuotaUsage.month == month))
    return {provider_id: used for provider_id, used in rows.all()}
