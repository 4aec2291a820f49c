"""The report lane: reports are built a few at a time, on database connections of their own.

A month-sized report reads for seconds and renders for seconds more. Before the lane, each download held one
of the API process's 30 pooled connections while asking for four more (its queries side by side), so 30
downloads at once took every connection and waited on each other for the rest: operators' creates got 503
after the pool's 30 s. Now:

- at most `HOMECARE_REPORT_CONCURRENCY` reports are built at once per API process (a semaphore);
- their sessions come from a read-only engine of their own with that many connections, so the pool that
  intake, the provider apps and the plans use never serves a report (on SQLite its transactions begin
  deferred: they read a WAL snapshot and never take the write lock that every write queues on);
- a report ends its read transaction before it fans its queries out (`sql.run_all`) and before it renders,
  so it never holds one connection while it waits for another;
- rendering (CSV, XLSX, PDF) runs in a worker thread once the connections are back, inside the slot, so
  no more than that many renders compete with the event loop;
- a download beyond the lane waits up to `HOMECARE_REPORT_WAIT_S` for its turn (a waiting download holds
  no connection and no thread), then gets 503 with Retry-After: the time bound is the queue's bound.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import make_engine
from service.errors import DomainError
from service.reports.sql import REPORT_READER
from service.settings import Settings


class ReportsBusy(DomainError):
    status, title = 503, "Service unavailable"


class ReportLane:
    def __init__(self, settings: Settings) -> None:
        self.size = settings.report_concurrency
        self.wait_s = settings.report_wait_s
        self.engine = make_engine(settings.database_url, pool_size=self.size, read_only=True)
        self.sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False, info={REPORT_READER: True}
        )
        self._slots = asyncio.Semaphore(self.size)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A turn in the lane, for building and rendering one report; 503 when none comes soon enough."""
        try:
            async with asyncio.timeout(self.wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            yield
        finally:
            self._slots.release()

    def _busy(self) -> ReportsBusy:
        busy = ReportsBusy(f"{self.size} reports are being built and others are waiting; retry the download shortly")
        busy.headers = {"Retry-After": str(max(1, math.ceil(self.wait_s)))}
        return busy

    async def close(self) -> None:
        await self.engine.dispose()


async def _lane(request: Request) -> ReportLane:
    return request.app.state.reports


ReportLaneDep = Annotated[ReportLane, Depends(_lane)]
