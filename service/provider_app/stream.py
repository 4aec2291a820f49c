"""The offer stream: new offers pushed to a provider's app the moment they are committed (Server-Sent Events).

How an offer gets from the writer to the phone, across processes:
1. Whoever commits new assignments (the dispatch tick, a plan, in any process) is watched by
   `wakeup.watch_offers`: an engine hook that notes an INSERT into `assignment` and, once that transaction is
   committed and its connection back in the pool, calls the process's `on_offers` with the ids of the
   providers offered to. On PostgreSQL that is a NOTIFY on OFFERS_CHANNEL naming them (wakeup.OfferNotifier,
   after the commit, folded); on SQLite (one process) it pokes the process's own `OfferHub`.
2. Each API process has one `OfferHub`. On PostgreSQL it LISTENs on OFFERS_CHANNEL on a connection of its
   own (opened with the first open stream). Told the providers, it wakes their streams; not told (too many
   to name), it runs one small query over the newest assignments (`scan`) and wakes only the streams of
   the providers that have an offer it had not seen. It also scans
   every `feed_safety_s` on its own, in case a notification was lost (a listener reconnecting, an offer
   written by a process that notifies nobody, such as the command line).
3. A woken stream reads its provider's offers in a short transaction of its own, returns the connection at
   once, and writes them out. While it waits it holds no database connection, only an asyncio.Event.

Exact resumption. A transaction can commit a little after the `offered_at` it stamped (FEED_LAG, the
listing cursor's own bound), so assignment ids do not arrive in id order. Every event's id is therefore a
`Position`: a moment `since` before which every offer was sent, and the ids of those sent at or after it.
Resuming from it sends the provider's offers offered since `since` that are not among those ids: nothing
lost, nothing twice. `since` trails the last read by FEED_LAG, so the ids are the few of the last seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from service.db import asyncpg_dsn, utcnow
from service.dispatching.wakeup import OFFERS_CHANNEL, named_providers
from service.errors import Invalid, TooMany
from service.lifecycle.models import Assignment
from service.provider_app.feed import FEED_LAG, assignments_of, to_view
from service.settings import Settings
from service.validation import EARLIEST, END_OF_TIME, MAX_ID

LAST_EVENT_ID = "Last-Event-ID"
MAX_POSITION_IDS = 5000  # more ids in one position than a provider is offered in FEED_LAG: not one we issued
RETRY_MS = 1000  # the client's reconnection delay (the SSE `retry` field)
log = logging.getLogger("homecare.stream")


# --------------------------------------------------------------------------- positions (event ids)


@dataclass(frozen=True)
class Position:
    since: datetime
    ids: frozenset[int]

    def encode(self) -> str:
        micros = int(self.since.timestamp() * 1_000_000)
        return ".".join([str(micros), *map(str, sorted(self.ids))])


def parse_position(text: str | None, field: str = LAST_EVENT_ID) -> Position | None:
    """An event id this service issued, from `Last-Event-ID` or `?last_event_id=`; None: start afresh."""
    if text is None or text == "":
        return None
    parts = text.split(".")
    try:
        if len(parts) > MAX_POSITION_IDS + 1 or not all(p.isdigit() and len(p) <= 19 for p in parts):
            raise ValueError
        since = datetime.fromtimestamp(int(parts[0]) / 1_000_000, UTC)
        ids = frozenset(int(p) for p in parts[1:])
        if not EARLIEST <= since < END_OF_TIME or any(not 0 < i <= MAX_ID for i in ids):
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise Invalid.field(field, "is not an event id this service issued") from None
    return Position(since, ids)


@dataclass(frozen=True)
class Offer:
    """One offer as read, ready to send."""

    id: int
    offered_at: datetime
    data: str  # the assignment, as the listing shows it, in JSON


@dataclass(frozen=True)
class Batch:
    """What one read found to send: each offer with the position that covers it and all before it."""

    events: list[tuple[Offer, Position]]
    position: Position  # after the last of them


async def query_offers(
    sessions: async_sessionmaker, provider_id: int, since: datetime | None
) -> tuple[datetime, list[Offer]]:
    """The provider's offers made since `since` (None: those open now and of the last FEED_LAG), by
    offered_at, in one short transaction; and the horizon before which all had committed when it ran."""
    horizon = utcnow() - FEED_LAG  # taken before the read: all offered before it have committed by then
    query = assignments_of(provider_id).order_by(Assignment.offered_at, Assignment.id)
    if since is None:
        query = query.where(or_(Assignment.status == "offered", col(Assignment.offered_at) >= horizon))
    else:
        # updated_at >= offered_at on every row: the bound lets the read use that column's index
        query = query.where(col(Assignment.offered_at) >= since, col(Assignment.updated_at) >= since)
    async with sessions() as session:
        rows = (await session.exec(query)).all()
    return horizon, [Offer(a.id, a.offered_at, to_view(a, r, e).model_dump_json()) for a, r, e in rows]


def batch_of(offers: list[Offer], position: Position | None, horizon: datetime) -> Batch:
    """What to send of `offers` (read at `horizon`) to a stream at `position`, and the positions after each."""
    if position is not None:
        offers = [o for o in offers if o.offered_at >= position.since]  # a read shared with streams further back
    sent = position.ids if position else frozenset()
    fresh = [o for o in offers if o.id not in sent]
    since = max(position.since, horizon) if position else horizon
    events = []
    for k, offer in enumerate(fresh):
        # Covered after this event: all before the next unsent offer (or `since`), and what was sent since then.
        bound = min(since, fresh[k + 1].offered_at) if k + 1 < len(fresh) else since
        unsent = {o.id for o in fresh[k + 1 :]}
        events.append(
            (offer, Position(bound, frozenset(o.id for o in offers if o.offered_at >= bound and o.id not in unsent)))
        )
    return Batch(events, Position(since, frozenset(o.id for o in offers if o.offered_at >= since)))


async def read_offers(sessions: async_sessionmaker, provider_id: int, position: Position | None) -> Batch:
    """The provider's offers not yet sent from `position` (None: those open now)."""
    horizon, offers = await query_offers(sessions, provider_id, position.since if position else None)
    return batch_of(offers, position, horizon)


# --------------------------------------------------------------------------- the hub of one process


class Waiter:
    """One open stream: woken when its provider may have a new offer."""

    def __init__(self, provider_id: int, token_id: int) -> None:
        self.provider_id, self.token_id = provider_id, token_id
        self.woken = asyncio.Event()


@dataclass
class SharedRead:
    since: datetime
    task: asyncio.Task | None = None


class OfferHub:
    def __init__(self, settings: Settings, sessions: async_sessionmaker) -> None:
        self._settings, self._sessions = settings, sessions
        self._waiters: dict[int, set[Waiter]] = defaultdict(set)
        self._per_token: dict[int, int] = defaultdict(int)
        self._seen: set[tuple[int, datetime]] = set()  # (assignment id, offered_at) of the last 2 FEED_LAG
        self._scanned_at: datetime | None = None
        self._again = False
        self._scanner: asyncio.Task | None = None
        self._background: asyncio.Task | None = None  # the listener (PostgreSQL) and the safety scans
        self._reads: dict[int, SharedRead] = {}  # provider id -> the read its woken streams are joining
        self.scans = 0

    @property
    def open_streams(self) -> int:
        return sum(self._per_token.values())

    def open(self, provider_id: int, token_id: int, most: int) -> Waiter:
        """Register a stream: 429 past `most` (feed_max_per_token) open streams of one token in this process."""
        if self._per_token[token_id] >= most:
            raise TooMany(
                f"this token already has {most} open offer streams here (HOMECARE_FEED_MAX_PER_TOKEN); "
                "close one or retry later",
                retry_after_s=30,
            )
        waiter = Waiter(provider_id, token_id)
        self._per_token[token_id] += 1
        self._waiters[provider_id].add(waiter)
        self._start_background()
        return waiter

    def close_stream(self, waiter: Waiter) -> None:
        """Unregister a stream; a second call for the same one does nothing."""
        waiters = self._waiters.get(waiter.provider_id)
        if waiters is None or waiter not in waiters:
            return
        waiters.discard(waiter)
        if not waiters:
            del self._waiters[waiter.provider_id]
        self._per_token[waiter.token_id] -= 1
        if not self._per_token[waiter.token_id]:
            del self._per_token[waiter.token_id]

    async def read(self, provider_id: int, position: Position) -> Batch:
        """`read_offers` for a woken stream. The streams of one provider are woken together (its phones,
        several apps on one token): they share one read, which goes back as far as the furthest of them."""
        shared = self._reads.get(provider_id)
        if shared is None:
            shared = self._reads[provider_id] = SharedRead(position.since)
            shared.task = asyncio.get_running_loop().create_task(self._read_shared(provider_id, shared))
        else:
            shared.since = min(shared.since, position.since)
        horizon, offers = await asyncio.shield(shared.task)
        return batch_of(offers, position, horizon)

    async def _read_shared(self, provider_id: int, shared: SharedRead) -> tuple[datetime, list[Offer]]:
        await asyncio.sleep(0)  # the provider's other streams, woken by the same scan, join meanwhile
        del self._reads[provider_id]  # from here on a stream starts a read of its own
        return await query_offers(self._sessions, provider_id, shared.since)

    def poke(self, providers: frozenset[int] = frozenset()) -> None:
        """New offers were committed for these providers: wake their streams. Not named (empty): find whose
        (one scan however many pokes meanwhile)."""
        if not self._waiters:
            return
        if providers:
            for provider_id in providers:
                for waiter in self._waiters.get(provider_id, ()):
                    waiter.woken.set()
            return
        self._again = True
        if self._scanner is None or self._scanner.done():
            self._scanner = asyncio.get_running_loop().create_task(self._scan_while_asked())

    async def _scan_while_asked(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.scan()
            except Exception as exc:  # noqa: BLE001 - the database away: the streams' own safety re-reads go on
                log.warning("offer scan failed (%s); the streams re-read at their next safety read", type(exc).__name__)
                self.wake_all()
                return

    async def scan(self) -> None:
        """Wake the streams of the providers with an offer not seen by the last scans."""
        started = utcnow()
        since = (self._scanned_at or started) - FEED_LAG
        query = select(Assignment.id, Assignment.provider_id, Assignment.offered_at).where(
            col(Assignment.updated_at) >= since, col(Assignment.offered_at) >= since
        )
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()
        self.scans += 1
        for assignment_id, provider_id, offered_at in rows:
            if (assignment_id, offered_at) not in self._seen:
                self._seen.add((assignment_id, offered_at))
                for waiter in self._waiters.get(provider_id, ()):
                    waiter.woken.set()
        self._scanned_at = started
        horizon = started - 2 * FEED_LAG
        self._seen = {(i, at) for i, at in self._seen if at >= horizon}

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.woken.set()

    def _start_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self._keep_watch())

    async def _keep_watch(self) -> None:
        """While streams are open: a safety scan every feed_safety_s, and on PostgreSQL the listener."""
        listener: asyncpg.Connection | None = None
        try:
            while self._waiters:
                if not self._settings.is_sqlite and (listener is None or listener.is_closed()):
                    listener = await self._listen()
                self.poke()
                await asyncio.sleep(self._settings.feed_safety_s)
        finally:
            if listener is not None and not listener.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.close(), 5)

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            connection = await asyncpg.connect(asyncpg_dsn(self._settings.database_url), timeout=10)
            await connection.add_listener(
                OFFERS_CHANNEL, lambda _c, _pid, _channel, payload: self.poke(named_providers(payload))
            )
            return connection
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("cannot listen for offers (%s); streams see new offers at the safety scans", type(exc).__name__)
            return None

    async def close(self) -> None:
        for task in (self._background, self._scanner):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


# --------------------------------------------------------------------------- one stream


def offer_event(offer: Offer, position: Position) -> ServerSentEvent:
    return ServerSentEvent(data=offer.data, event="offer", id=position.encode())


async def offer_events(
    hub: OfferHub, settings: Settings, waiter: Waiter, first: Batch, resumed: bool
) -> AsyncIterator[ServerSentEvent]:
    """The events of one stream: the first read's offers (those missed, or those open now), `ready`, then
    each new offer as it comes. Ends after feed_max_age_s, or when a read fails (the database away): the
    client reconnects with its last event id."""
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + settings.feed_max_age_s
    batch = first
    for offer, covered in batch.events:
        yield offer_event(offer, covered)
    position = batch.position
    yield ServerSentEvent(data=json.dumps({"resumed": resumed}), event="ready", id=position.encode(), retry=RETRY_MS)
    while loop.time() < ends_at:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(settings.feed_safety_s, max(ends_at - loop.time(), 0))):
                await waiter.woken.wait()
        waiter.woken.clear()
        try:
            batch = await hub.read(waiter.provider_id, position)
        except Exception as exc:  # noqa: BLE001 - the client resumes from its last event id once the database is back
            log.warning("offer stream read failed (%s); closing the stream", type(exc).__name__)
            return
        for offer, covered in batch.events:
            yield offer_event(offer, covered)
        position = batch.position


def stream_response(
    hub: OfferHub, settings: Settings, waiter: Waiter, first: Batch, resumed: bool
) -> EventSourceResponse:
    """The SSE response: heartbeat comments every feed_heartbeat_s; a client that does not take an event
    or a heartbeat within feed_send_timeout_s is disconnected. Its stream holds no database connection
    meanwhile (each read is over before its events are written), and at most one read's events."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for item in offer_events(hub, settings, waiter, first, resumed):
                yield item
        finally:
            hub.close_stream(waiter)

    return EventSourceResponse(
        events(),
        ping=settings.feed_heartbeat_s,
        send_timeout=settings.feed_send_timeout_s,
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(hub.close_stream, waiter),
    )  # HEAD: never iterated
