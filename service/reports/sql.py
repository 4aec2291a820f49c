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

from service.transactions import end_read

Job = Callable[[AsyncSession], Awaitable[Any]]
# Independent aggregates of one report run side by side on PostgreSQL, this many at a time: enough to
# keep a few cores busy. They take turns on the report lane's own connections (lane.py).
REPORT_CONNECTIONS = 4
# A session's `info` key: the session only reads, for a report (the report lane's sessions).
REPORT_READER = "report_reader"


def count_if(condition: ColumnElement) -> ColumnElement:
    """COUNT of the rows meeting a condition; 0 (never NULL) over an empty group once coalesced."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def minutes_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float) / 60.0
    # SQLite keeps UTC datetimes as ISO text; julianday() reads it as days since noon, 4714 BC.
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


async def percentiles(session: AsyncSession, values: Select, fractions: Sequence[float]) -> list[float | None]:
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

    On PostgreSQL, given a report's own session (marked REPORT_READER), its transaction is ended first, so
    its connection is back in the pool, and then each job runs in a session and transaction of its own
    (READ COMMITTED gives every statement its own snapshot anyway, so nothing is lost by splitting them):
    a report never holds one connection while it waits for another. Any other session (a month's close,
    inside the transaction that writes it) runs them in turn, as SQLite does, which has one core to offer.
    """
    if session.bind.dialect.name != "postgresql" or not session.info.get(REPORT_READER):
        return [await job(session) for job in jobs]
    await end_read(session)  # it has only read: this ends its transaction and returns its connection
    gate = asyncio.Semaphore(REPORT_CONNECTIONS)

    async def one(job: Job) -> Any:
        async with gate, AsyncSession(session.bind, expire_on_commit=False, info=dict(session.info)) as own:
            await tune_for_reports(own)
            return await job(own)

    return list(await asyncio.gather(*(one(job) for job in jobs)))
