"""`homecare scheduler`: the production scheduler process, which outlives database restarts.

Only the holder of a PostgreSQL advisory lock runs jobs. The lock lives on a dedicated connection, so a
second scheduler waits as a standby and takes over when the leader's session ends (it died, or lost its
connection). The leader LISTENs on that connection for the API's NOTIFY, so that an emergency is
dispatched at once rather than at the next tick.

A lost connection never ends the process (only SIGTERM/SIGINT or the `stop` event do): the scheduler
stops its jobs the moment the lock connection is gone — the lock went with it, and another scheduler may
hold it already — then reconnects with a capped, jittered backoff, asks for the lock again, LISTENs again
and resumes. Its heartbeat file (service/heartbeat.py) says which of these it is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable

import asyncpg

from service.db import CONNECT_TIMEOUT_S, asyncpg_dsn
from service.dispatching.wakeup import CHANNEL, EMERGENCY
from service.errors import database_unavailable
from service.heartbeat import Heartbeat
from service.scheduler import running_jobs
from service.settings import Settings

log = logging.getLogger("homecare.leader")
LOCK_KEY = 0x686F6D6563617265  # "homecare"
STANDBY_POLL_S = 1.0  # a standby asks for the lock this often: a takeover waits at most this long
LIVENESS_S = 2.0  # the leader pings its lock connection this often, so a silent network fault is found too
QUERY_TIMEOUT_S = 5.0  # a ping or a lock request unanswered this long means the connection is gone


class Backoff:
    """Waits between reconnection attempts: doubling from `first_s` up to `cap_s`, each drawn at random
    from the upper half of its step, so that processes which lost the database together do not knock
    on it together when it comes back."""

    def __init__(self, first_s: float = 0.2, cap_s: float = 10.0, rng: Callable[[], float] = random.random):
        self.first_s, self.cap_s, self.rng = first_s, cap_s, rng
        self.failures = 0

    def next(self) -> float:
        step = min(self.cap_s, self.first_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return step * (0.5 + self.rng() / 2)

    def reset(self) -> None:
        self.failures = 0


class LockConnectionLost(Exception):
    """The connection holding (or asking for) the lock is gone: no jobs may run until it is taken again."""


async def _wait(stop: asyncio.Event, lost: asyncio.Event, timeout_s: float) -> None:
    """Until `stop` or `lost` is set, or `timeout_s` have passed."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class Contender:
    """One scheduler process's bid for leadership, renewed after every lost connection."""

    def __init__(self, settings: Settings, stop: asyncio.Event, heartbeat: Heartbeat) -> None:
        self.settings, self.stop, self.heartbeat = settings, stop, heartbeat
        self.dsn = asyncpg_dsn(settings.database_url)
        self.backoff = Backoff()

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                await self._session()
            except Exception as exc:  # whatever went wrong, dispatching must come back without a human
                if database_unavailable(exc) or isinstance(exc, LockConnectionLost):
                    log.warning("scheduler lost the database (%s: %s); reconnecting", type(exc).__name__, exc)
                else:
                    log.exception("scheduler failed; starting over")
            if self.stop.is_set():
                break
            self.heartbeat.set("reconnecting")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.backoff.next())

    async def _session(self) -> None:
        """Connect, wait for the lock as a standby, lead until stopped; raises when the connection goes."""
        connection = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_S)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            while not self.stop.is_set():
                if lost.is_set():
                    raise LockConnectionLost("the lock connection closed")
                if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=QUERY_TIMEOUT_S):
                    self.backoff.reset()
                    await self._lead(connection, lost)
                    return
                self.backoff.reset()
                if self.heartbeat.state != "standby":
                    log.info("another scheduler is the leader; waiting")
                    self.heartbeat.set("standby")
                await _wait(self.stop, lost, STANDBY_POLL_S)
        finally:
            await self._close(connection, lost)

    async def _lead(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        log.info("scheduler is the leader")
        self.heartbeat.set("leader")
        # An exception out of this block (the connection is gone) makes running_jobs cancel every job at once
        # rather than let the tick in progress finish: another scheduler may be leading already.
        async with running_jobs(self.settings) as dispatcher:
            await connection.add_listener(CHANNEL, lambda _c, _p, _ch, payload: dispatcher.poke(payload == EMERGENCY))
            dispatcher.poke()  # work that came in while no scheduler was leading (its NOTIFYs are lost)
            while not self.stop.is_set():
                await _wait(self.stop, lost, LIVENESS_S)
                if lost.is_set():
                    raise LockConnectionLost("the lock connection closed")
                if not self.stop.is_set():
                    await connection.fetchval("SELECT 1", timeout=QUERY_TIMEOUT_S)

    async def _close(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        if lost.is_set() or connection.is_closed():
            connection.terminate()
            return
        try:  # a clean goodbye ends the session, and releases the lock, at once
            await asyncio.wait_for(connection.close(), QUERY_TIMEOUT_S)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            connection.terminate()


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event):
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_scheduler_process(
    settings: Settings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> None:
    """Run until `stop` is set (SIGTERM and SIGINT set it when `handle_signals`); never on a lost database."""
    stop = stop or asyncio.Event()
    heartbeat = Heartbeat(settings.heartbeat_path, settings.heartbeat_s)
    with _signals_set(stop) if handle_signals else contextlib.nullcontext():
        async with heartbeat.beating():
            if settings.is_sqlite:  # one process, no lock; the jobs outlive a database they cannot open
                heartbeat.set("leader")
                async with running_jobs(settings):
                    await stop.wait()
            else:
                await Contender(settings, stop, heartbeat).run()
    log.info("scheduler stopped")
