"""Monthly quotas held by the database: units are taken with one conditional UPDATE or not at all."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table, case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.bulk import chunks, rows_per_statement, value_chunks
from service.lifecycle.models import QuotaUsage
from service.providers.models import Provider


async def _ensure_rows(session: AsyncSession, provider_ids: list[int], month: str) -> None:
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    rows = [{"provider_id": p, "month": month, "used": 0} for p in provider_ids]
    for chunk in value_chunks(rows):
        await session.exec(insert(QuotaUsage).values(chunk).on_conflict_do_nothing())


async def take_many(session: AsyncSession, month: str, visits: Mapping[int, int]) -> set[int]:
    """Take `visits[p]` units of each provider p's quota for the month, all of them or none: the providers
    whose units were taken (the others would have exceeded their quota)."""
    if not visits:
        return set()
    granted = await _take(session, month, visits)
    missing = [p for p in visits if p not in granted]
    if missing:  # a provider's first offer of the month has no usage row yet
        await _ensure_rows(session, missing, month)
        granted |= await _take(session, month, {p: visits[p] for p in missing})
    return granted


_USAGE: Table = QuotaUsage.__table__  # type: ignore[attr-defined]
_PROVIDERS: Table = Provider.__table__  # type: ignore[attr-defined]
_QUOTA = select(_PROVIDERS.c.monthly_quota).where(_PROVIDERS.c.id == _USAGE.c.provider_id)


async def _take(session: AsyncSession, month: str, visits: Mapping[int, int]) -> set[int]:
    # One statement for every provider of the batch (run on the connection: the ORM adds nothing here):
    # each row moves only if all its units fit. Three parameters a provider (its id twice, its units).
    granted: set[int] = set()
    for providers in chunks(list(visits), rows_per_statement(3, spare=1)):
        wanted = case({p: visits[p] for p in providers}, value=_USAGE.c.provider_id)
        result = await (await session.connection()).execute(
            update(_USAGE)
            .where(
                _USAGE.c.month == month,
                _USAGE.c.provider_id.in_(providers),
                _USAGE.c.used + wanted <= _QUOTA.scalar_subquery(),
            )
            .values(used=_USAGE.c.used + wanted)
            .returning(_USAGE.c.provider_id)
        )
        granted.update(result.scalars().all())
    return granted


async def take_beyond_quota(session: AsyncSession, provider_id: int, month: str) -> None:
    """Take one unit whatever the provider's quota: an operator's override for an emergency (audited by
    the caller); given back like any other unit."""
    await _ensure_rows(session, [provider_id], month)
    await session.exec(
        update(QuotaUsage)
        .where(col(QuotaUsage.provider_id) == provider_id, col(QuotaUsage.month) == month)
        .values(used=QuotaUsage.used + 1)
    )


async def release(session: AsyncSession, provider_id: int, month: str, visits: int = 1) -> None:
    await session.exec(
        update(QuotaUsage)
        .where(
            col(QuotaUsage.provider_id) == provider_id, col(QuotaUsage.month) == month, col(QuotaUsage.used) >= visits
        )
        .values(used=QuotaUsage.used - visits)
    )


async def used_by_provider(session: AsyncSession, month: str) -> dict[int, int]:
    rows = await session.exec(
        select(col(QuotaUsage.provider_id), col(QuotaUsage.used)).where(col(QuotaUsage.month) == month)
    )
    return dict(rows.all())
