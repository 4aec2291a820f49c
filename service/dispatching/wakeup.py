"""Waking the dispatcher as soon as there is work, instead of at its next tick.

Whoever commits new work for the dispatcher (a request, an alert, a declined offer) pokes
`app.state.dispatcher` once the work is committed. In the embedded set-up that is the scheduler in
this process. In production the scheduler is another process that LISTENs on a PostgreSQL channel, and
the poke is a NOTIFY sent by the `Notifier` right after the commit, never from inside the work's own
transaction: PostgreSQL serialises the commits of all transactions that NOTIFY behind one lock held
through their WAL flush, so a NOTIFY in every create made the creates commit one at a time. The
Notifier sends one NOTIFY at a time and folds the pokes that arrive meanwhile into the next one (an
emergency among them makes it an emergency's). A NOTIFY lost to a crash costs the dispatcher's
one-second tick, its safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from fastapi import FastAPI

from service.db import asyncpg_dsn

CHANNEL = "homecare_dispatch"
EMERGENCY = "emergency"  # the payload of a notification about an emergency: it jumps the dispatcher's queue

log = logging.getLogger("homecare.wakeup")


class Notifier:
    """Pokes the leader scheduler process by NOTIFY (PostgreSQL, API processes without a scheduler), on a
    connection of its own: under load every connection of the pool may be taken by requests."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._connection: asyncpg.Connection | None = None
        self._wanted: bool | None = None  # a NOTIFY to send: for an emergency or not; None: nothing to send
        self._sender: asyncio.Task | None = None

    def poke(self, emergency: bool = False) -> None:
        self._wanted = bool(self._wanted) or emergency
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._wanted is not None:
            emergency, self._wanted = self._wanted, None
            try:
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self._dsn)
                await self._connection.execute("SELECT pg_notify($1, $2)", CHANNEL,
                                               EMERGENCY if emergency else "")
            # The work is committed anyway. InternalClientError: a connection caught mid-operation by a
            # database restart ("cannot switch to state …"). One line, no traceback: during an outage every
            # create lands here.
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
                log.warning("could not notify the scheduler (%s); it will find the work at its next tick",
                            type(exc).__name__)
                if self._connection is not None:  # a fresh connection for the next NOTIFY
                    self._connection.terminate()
                    self._connection = None

    async def close(self, timeout_s: float = 5.0) -> None:
        """At shutdown: let the NOTIFY in flight go out, then close the connection."""
        if self._sender is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._sender, timeout_s)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def wake_dispatcher(app: FastAPI, emergency: bool = False) -> None:
    dispatcher = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.poke(emergency)
