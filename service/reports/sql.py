"""The few aggregates SQLite and PostgreSQL spell differently, spelled once here.

Everything else in the reports is plain GROUP BY / COUNT / SUM / CASE, which both databases share.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, case, cast, func, text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

Job = Callable[[AsyncSession], Awaitable[Any]]
# Independent aggregates of one report run side by side on PostgreSQL, this many at a time: enough to
# keep a few cores busy, few enough that several reports at once stay inside the connection pool.
REPORT_CONNECTIONS = 4


def count_if(condition: ColumnElement) -> ColumnElement:
    """COUNT of the rows meeting a condition; 0 (never NULL) over an empty group once coalesced."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def minutes_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float) / 60.0
    # SQLite keeps UTC datetimes as ISO text; julianday() reads it as days since noon, 4714 BC.
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


async def percentiles(session: AsyncSession, values: Select,
                      fractions: Sequence[float]) -> list[float | None]:
    """Continuous percentiles (as PostgreSQL's percentile_cont) of the one column `values` selects.

    PostgreSQL sorts inside the database; SQLite has no percentile aggregate, so it is asked for the
    count and then only the one or two sorted values around each rank, never the whole column.
    """
    column = values.subquery().c[0]
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        wanted = (func.percentile_cont(f).within_group(column) for f in fractions)
        row = (await session.exec(select(*wanted))).one()
        found = tuple(row) if len(fractions) > 1 else (row,)
        return [None if v is None else float(v) for v in found]
    present = column.is_not(None)
    n = (await session.exec(select(func.count(column)))).one()
    result: list[float | None] = []
    for fraction in fractions:
        if n == 0:
            result.append(None)
            continue
        rank = fraction * (n - 1)
        low = math.floor(rank)
        pair = (await session.exec(select(column).where(present).order_by(column).offset(low).limit(2))).all()
        below = float(pair[0])
        above = float(pair[1]) if len(pair) > 1 else below
        result.append(below + (above - below) * (rank - low))
    return result


def rate(part: float | None, whole: float | None, digits: int = 4) -> float | None:
    """A share rounded for documents; None when there is nothing to take a share of."""
    if not whole or part is None:
        return None
    return round(part / whole, digits)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


async def tune_for_reports(session: AsyncSession) -> None:
    """Month-sized aggregates on PostgreSQL: hash tables in memory rather than spilled to disk, and no JIT
    (compiling costs more than it saves on queries of a few seconds). Only for this transaction."""
    if session.bind.dialect.name == "postgresql":
        await session.exec(text("SET LOCAL work_mem = '64MB'"))
        await session.exec(text("SET LOCAL jit = off"))


async def run_all(session: AsyncSession, jobs: Sequence[Job]) -> list[Any]:
    """Run independent report queries, each `job(session)`, and return their results in order.

    On PostgreSQL each runs in its own session and transaction (READ COMMITTED gives every statement its
    own snapshot anyway, so nothing is lost by splitting them). SQLite has one writer lock and one core
    to offer: there they run in turn on the caller's session.
    """
    if session.bind.dialect.name != "postgresql":
        return [await job(session) for job in jobs]
    gate = asyncio.Semaphore(REPORT_CONNECTIONS)

    async def one(job: Job) -> Any:
        async with gate, AsyncSession(session.bind, expire_on_commit=False) as own:
            await tune_for_reports(own)
            return await job(own)

    return list(await asyncio.gather(*(one(job) for job in jobs)))
