"""Waking the dispatcher as soon as there is work, instead of at its next tick.

In the embedded set-up the scheduler lives in the API process and the route pokes its dispatcher. In
production the scheduler is another process: it LISTENs on a PostgreSQL channel, and the API's
NOTIFY is sent by the transaction that created the work, so it fires only once that work is visible.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

CHANNEL = "homecare_dispatch"


EMERGENCY = "emergency"  # the payload of a notification about an emergency: it jumps the dispatcher's queue


async def notify(session: AsyncSession, emergency: bool = False) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.exec(text(f"NOTIFY {CHANNEL}, '{EMERGENCY}'" if emergency else f"NOTIFY {CHANNEL}"))


def wake_dispatcher(app: FastAPI, emergency: bool = False) -> None:
    dispatcher = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.poke(emergency)
