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
from collections.abc import Callable

import asyncpg
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import asyncpg_dsn
from service.lifecycle.models import Assignment

CHANNEL = "homecare_dispatch"
OFFERS_CHANNEL = "homecare_offers"  # new offers committed, for the offer streams (provider_app/stream.py)
EMERGENCY = "emergency"  # the payload of a notification about an emergency: it jumps the dispatcher's queue

log = logging.getLogger("homecare.wakeup")


class Notifier:
    """Pokes the leader scheduler process by NOTIFY (PostgreSQL, API processes without a scheduler), or with
    `channel=OFFERS_CHANNEL` the API processes' offer streams, on a connection of its own: under load every
    connection of the pool may be taken by requests."""

    _failed = "could not notify the scheduler (%s); it will find the work at its next tick"

    def __init__(self, database_url: str, channel: str = CHANNEL) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._channel = channel
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
                await self._connection.execute("SELECT pg_notify($1, $2)", self._channel, self._payload(emergency))
            # The work is committed anyway. InternalClientError: a connection caught mid-operation by a
            # database restart ("cannot switch to state …"). One line, no traceback: during an outage every
            # create lands here.
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
                log.warning(self._failed, type(exc).__name__)
                if self._connection is not None:  # a fresh connection for the next NOTIFY
                    self._connection.terminate()
                    self._connection = None

    def _payload(self, emergency: bool) -> str:
        return EMERGENCY if emergency else ""

    async def close(self, timeout_s: float = 5.0) -> None:
        """At shutdown: let the NOTIFY in flight go out, then close the connection."""
        if self._sender is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._sender, timeout_s)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class OfferNotifier(Notifier):
    """NOTIFY OFFERS_CHANNEL after offers are committed, naming the providers offered to since the last
    NOTIFY ("3,17,42"), so that each API process wakes their streams without looking first. An empty
    payload (the providers unknown, or too many for one) makes every API process look (`OfferHub.scan`)."""

    MAX_NAMED = 500  # ids of up to 10 digits and a comma: well inside NOTIFY's 8000 bytes
    _failed = "could not notify the offer streams (%s); they will find the offers at their next safety read"

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, channel=OFFERS_CHANNEL)
        self._providers: set[int] = set()
        self._unknown = False

    def poke(self, providers: frozenset[int] = frozenset()) -> None:  # type: ignore[override]
        self._providers |= providers
        self._unknown = self._unknown or not providers
        super().poke()

    def _payload(self, emergency: bool) -> str:
        providers, unknown, self._providers, self._unknown = self._providers, self._unknown, set(), False
        if unknown or len(providers) > self.MAX_NAMED:
            return ""
        return ",".join(map(str, sorted(providers)))


def named_providers(payload: str) -> frozenset[int]:
    """The provider ids of an OfferNotifier's payload; empty: unknown (look)."""
    try:
        return frozenset(int(p) for p in payload.split(",")) if payload else frozenset()
    except ValueError:
        return frozenset()


def wake_dispatcher(app: FastAPI, emergency: bool = False) -> None:
    dispatcher = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.poke(emergency)


_WRITTEN, _COMMITTED = "homecare_offers_written", "homecare_offers_committed"


def _info_of(conn) -> dict | None:
    """The connection's info dict; None for a connection the driver has lost (a database restart), whose
    transaction is gone with it: nothing of it was committed."""
    try:
        return conn.info
    except SQLAlchemyError:
        return None


def watch_offers(engine: AsyncEngine, on_offers: Callable[[frozenset[int]], None]) -> None:
    """Call `on_offers(provider ids)` (soon, on the event loop that used the engine) whenever a transaction
    that inserted assignments has committed and returned its connection: the offers are visible to every
    reader by then. The ids are those of the providers offered to; empty when the insert did not show them."""
    sync = engine.sync_engine
    table = Assignment.__table__

    @event.listens_for(sync, "after_execute")
    def _executed(conn, clause, multiparams, params, *_args) -> None:
        if getattr(clause, "is_insert", False) and getattr(clause, "table", None) is table:
            rows = [*(multiparams or ()), *([params] if params else [])]
            rows = [r for row in rows for r in (row if isinstance(row, list | tuple) else [row])]
            ids = {r.get("provider_id") for r in rows if isinstance(r, dict)}
            info = _info_of(conn)
            if info is not None:
                info.setdefault(_WRITTEN, set()).update(ids if ids and None not in ids else {None})

    @event.listens_for(sync, "commit")
    def _committing(conn) -> None:
        info = _info_of(conn)
        written = info.pop(_WRITTEN, None) if info is not None else None
        if written:
            info.setdefault(_COMMITTED, set()).update(written)

    @event.listens_for(sync, "rollback")
    def _rolled_back(conn) -> None:
        info = _info_of(conn)
        if info is not None:
            info.pop(_WRITTEN, None)

    @event.listens_for(sync, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        committed = record.info.pop(_COMMITTED, None)
        if committed:
            providers = frozenset() if None in committed else frozenset(committed)
            with contextlib.suppress(RuntimeError):  # returned outside a running loop (collected): nobody to tell
                asyncio.get_running_loop().call_soon(on_offers, providers)
