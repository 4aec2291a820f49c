"""Request-scoped dependencies: the database session (and its one transaction) and the settings.

The transaction rule (docs/design.md § Transactions): services never commit. A request's work is one
transaction, committed here once the handler has returned, rolled back if it raised, and ended either way
before the answer is sent: a handler that only read gives its connection back to the pool as it returns,
instead of holding it "idle in transaction" while the answer is serialised and sent. Work for after the
commit (waking the dispatcher) is handed to `after_commit`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import close_session
from service.settings import Settings

_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run `action` once the request's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A request's one transaction: committed when the block ends normally, rolled back if it raised, the
    connection returned either way; then the `after_commit` actions. The API's handlers get it as
    `SessionDep`; the console's pages (service/console/gateway.py) open it themselves."""
    session = sessions()
    try:
        yield session
        await session.commit()
    finally:  # rolls back what was not committed (the block raised) and returns the connection
        await close_session(session)
    for action in session.info.pop(_AFTER_COMMIT, ()):
        action()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session


# Every dependency is `async def`: FastAPI runs a plain `def` one in the thread pool, a hand-off that costs
# far more than the attribute read it wraps.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


# scope="function": the code after `yield` (the commit) runs when the handler returns, before the answer
# is sent, so a failed commit is the answer (a 409 or 503), never a success already on its way.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
