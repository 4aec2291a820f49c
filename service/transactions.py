"""Who commits: services never do. They write with the session they are given and leave its transaction
open; the one who opened the transaction ends it (docs/design.md § Transactions):

- a request's: its session dependency (service/deps.py), once the handler has succeeded;
- a job's (the scheduler's sweeps, the dispatch tick, the monthly plan) or a handler's own outside the
  request's session (the one-statement create's replay): each unit of work, `unit(sessions)` here, with the
  sessionmaker the job was given;
- the command line's and the migrations' their own.

tests/test_architecture.py keeps `.commit()` to these modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession


@asynccontextmanager
async def unit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work in a session and transaction of its own: committed when the block ends normally,
    rolled back when it raises."""
    async with sessions() as session:
        yield session
        await session.commit()


async def end_read(session: AsyncSession) -> None:
    """End a transaction that has only read (a report's, before it fans out), giving its connection back:
    the objects it loaded stay as they are (no expiry, as a rollback would)."""
    await session.commit()
