"""Request-scoped dependencies: the database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import close_session
from service.settings import Settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    session = request.app.state.sessions()
    try:
        yield session
    finally:  # after the answer was sent, for most routes: a connection lost meanwhile must not fail them
        await close_session(session)


# Every dependency is `async def`: FastAPI runs a plain `def` one in the thread pool, a hand-off that costs
# far more than the attribute read it wraps.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[AsyncSession, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
