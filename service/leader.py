"""`homecare scheduler`: the production scheduler process.

Only the holder of a PostgreSQL advisory lock runs jobs; the lock lives on a dedicated connection
for the process's lifetime, so a second scheduler started by mistake just waits, and takes over if
the first dies (its connection closes and the lock with it). The leader LISTENs for the API's
NOTIFY so that an emergency is dispatched at once rather than at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import asyncpg

from service.db import asyncpg_dsn
from service.dispatching.wakeup import CHANNEL, EMERGENCY
from service.scheduler import running_jobs
from service.settings import Settings

log = logging.getLogger("homecare.leader")
LOCK_KEY = 0x686F6D6563617265  # "homecare"
RETRY_SECONDS = 5


async def acquire_leadership(dsn: str, stop: asyncio.Event) -> asyncpg.Connection | None:
    connection = await asyncpg.connect(dsn)
    while not stop.is_set():
        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            return connection
        log.info("another scheduler is the leader; waiting")
        try:
            await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
        except TimeoutError:
            pass
    await connection.close()
    return None


async def run_scheduler_process(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    leader = None
    if not settings.is_sqlite:
        leader = await acquire_leadership(asyncpg_dsn(settings.database_url), stop)
        if leader is None:
            return
        leader.add_termination_listener(lambda _: stop.set())  # lost the lock: stop, let another lead
    log.info("scheduler is the leader")
    try:
        async with running_jobs(settings) as dispatcher:
            if leader is not None:
                await leader.add_listener(CHANNEL,
                                          lambda _c, _p, _ch, payload: dispatcher.poke(payload == EMERGENCY))
            await stop.wait()
    finally:
        if leader is not None:
            await leader.close()
