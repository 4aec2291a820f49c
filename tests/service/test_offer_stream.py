"""The provider apps' offer stream (GET /api/v1/provider/offers/stream, Server-Sent Events).

httpx's ASGITransport hands a response over only once it is complete, and a stream never is: the stream
tests talk to the session's app served by a real uvicorn on a free port (no lifespan: the app is shared).
Offers are made the way the dispatcher makes them, through the app's engine, so they reach the stream as
in production: NOTIFY on PostgreSQL, the process's own hub on SQLite. Every wait is bounded against a hang;
nothing is timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import uvicorn
from httpx_sse import aconnect_sse

from service.app import create_app
from service.db import make_engine, make_sessionmaker, utcnow
from service.dispatching.wakeup import OfferNotifier, named_providers, watch_offers
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.migrate import migrate
from service.provider_app import stream as stream_module
from service.provider_app.stream import OfferHub, Position, parse_position, read_offers, stream_response
from service.scheduler import Dispatcher
from service.settings import Settings
from tests.conftest import clean_database, token_factory
from tests.service.helpers import build_world, new_request, offer_to

pytestmark = pytest.mark.asyncio
STREAM = "/api/v1/provider/offers/stream"
BOUND_S = 60  # against a hang, never a timing assertion


class Stream:
    """One open stream, read event by event."""

    def __init__(self, events) -> None:
        self._events = events

    async def next(self):
        async with asyncio.timeout(BOUND_S):
            return await anext(self._events)

    async def until_ready(self) -> list:
        """The events before `ready`, and `ready` itself last."""
        seen = []
        while not seen or seen[-1].event != "ready":
            seen.append(await self.next())
        return seen


@contextlib.asynccontextmanager
async def stream(base_url: str, headers: dict, last_event_id: str | None = None) -> AsyncIterator[Stream]:
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=BOUND_S) as client,
        aconnect_sse(client, "GET", STREAM, headers={**headers, **extra}) as source,
    ):
        assert source.response.status_code == 200, await source.response.aread()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        yield Stream(source.aiter_sse())


def offered(events) -> list[int]:
    return [json.loads(e.data)["id"] for e in events if e.event == "offer"]


async def test_an_offer_made_after_connecting_arrives_and_only_the_providers_own(
    client, token, db, live, app, settings
):
    world = await build_world(client, token)
    async with stream(live, world.provider) as feed:
        [ready] = await feed.until_ready()
        assert json.loads(ready.data) == {"resumed": False} and ready.id
        theirs = await new_request(client, world)
        await offer_to(db, theirs["id"], world.other_provider_id)
        ours = await new_request(client, world, urgency="emergency", service="emergency")
        # As the dispatcher makes it: its tick, through the app's engine.
        assert await Dispatcher(app.state.sessions, settings).tick() >= 1
        event = await feed.next()
        offer = json.loads(event.data)
        assert event.event == "offer" and offer["request_id"] == ours["id"] and offer["status"] == "offered"
        assert offer["elder"]["phone"].count("*") == 4
        assert parse_position(event.id).ids >= {offer["id"]}
    # The other provider's stream begins with its own open offer, and never ours.
    async with stream(live, world.other_provider) as feed:
        events = await feed.until_ready()
        assert [json.loads(e.data)["request_id"] for e in events if e.event == "offer"] == [theirs["id"]]


async def test_resuming_sends_exactly_the_offers_missed_meanwhile(client, token, db, live):
    world = await build_world(client, token)
    first = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    async with stream(live, world.provider) as feed:
        events = await feed.until_ready()
        assert offered(events) == [first]  # open now: sent at once
        second = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
        event = await feed.next()
        assert offered([event]) == [second]
        last_id = event.id
    # Dropped. Offers made meanwhile, then the app comes back with the last id it had.
    third = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    fourth = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    async with stream(live, world.provider, last_event_id=last_id) as feed:
        events = await feed.until_ready()
        assert offered(events) == [third, fourth]
        assert json.loads(events[-1].data) == {"resumed": True}
        mid_batch, ready_id = events[0].id, events[-1].id
        fifth = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
        assert offered([await feed.next()]) == [fifth]
    # Dropped right after the first of the two: only the second and what came after.
    async with stream(live, world.provider, last_event_id=mid_batch) as feed:
        assert offered(await feed.until_ready()) == [fourth, fifth]
    async with stream(live, world.provider, last_event_id=ready_id) as feed:
        assert offered(await feed.until_ready()) == [fifth]


async def test_heartbeats_are_comments(client, token, db, live, app, settings, monkeypatch):
    monkeypatch.setitem(app.state._state, "settings", settings.model_copy(update={"feed_heartbeat_s": 0.05}))
    world = await build_world(client, token)
    async with (
        httpx.AsyncClient(base_url=live, timeout=BOUND_S) as http,
        http.stream("GET", STREAM, headers=world.provider) as response,
    ):
        lines = response.aiter_lines()
        async with asyncio.timeout(BOUND_S):
            async for line in lines:
                if line.startswith(":"):
                    break
        assert line.startswith(": ping")


async def test_more_streams_than_allowed_for_one_token_is_429_and_a_closed_one_frees_its_place(
    client, token, db, live, app, settings, monkeypatch
):
    monkeypatch.setitem(app.state._state, "settings", settings.model_copy(update={"feed_max_per_token": 2}))
    world = await build_world(client, token)
    async with stream(live, world.provider) as one:
        await one.until_ready()
        async with stream(live, world.provider) as two:
            await two.until_ready()
            third = await client.get(STREAM, headers=world.provider)
            assert third.status_code == 429 and third.headers["content-type"] == "application/problem+json"
            assert int(third.headers["Retry-After"]) > 0 and "HOMECARE_FEED_MAX_PER_TOKEN" in third.json()["detail"]
            # Another token of the same provider has places of its own.
            async with stream(live, await token("provider", provider_id=world.provider_id)) as other:
                await other.until_ready()
    async with asyncio.timeout(BOUND_S):  # the server notices the closed streams
        while app.state.offer_hub.open_streams:
            await asyncio.sleep(0.02)
    async with stream(live, world.provider) as again:
        await again.until_ready()


async def test_refusals_come_before_the_stream(client, token, db, app):
    world = await build_world(client, token)
    assert (await client.get(STREAM, headers=world.operator)).status_code == 403
    assert (await client.get(STREAM)).status_code == 401
    for bad in ("yesterday", "1.2.x", "99999999999999999999", "1764637850123456.0", "-5"):
        answer = await client.get(STREAM, headers={**world.provider, "Last-Event-ID": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["errors"][0]["field"] == "Last-Event-ID"
    query = await client.get(STREAM, params={"last_event": "nope"}, headers=world.provider)
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "last_event"
    assert app.state.offer_hub.open_streams == 0  # a refused stream holds no place


async def test_an_offer_committed_late_with_an_earlier_stamp_is_still_sent_once(client, token, db):
    """A transaction may commit after a later one although it stamped its offer earlier: the position
    keeps what was sent since `since`, so the late one is sent and nothing twice."""
    world = await build_world(client, token)
    first = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    batch = await read_offers(db, world.provider_id, None)
    assert [o.id for o, _ in batch.events] == [first] and first in batch.position.ids
    late = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    async with db() as session:  # stamped five seconds before the first, committed after it
        row = await session.get(Assignment, late)
        row.offered_at = row.updated_at = utcnow() - timedelta(seconds=5)
        session.add(row)
        await session.commit()
    again = await read_offers(db, world.provider_id, batch.position)
    assert [o.id for o, _ in again.events] == [late]
    assert (await read_offers(db, world.provider_id, again.position)).events == []
    assert parse_position(again.position.encode()) == again.position


async def test_offers_are_announced_only_once_committed(client, token, db, settings):
    """The engine hook: a transaction that inserted assignments announces them after its commit; one that
    rolled back announces nothing."""
    world = await build_world(client, token)
    engine = make_engine(settings.database_url)
    announced = []
    watch_offers(engine, announced.append)
    sessions = make_sessionmaker(engine)
    try:
        request = await new_request(client, world)
        async with sessions() as session:
            row = await session.get(ServiceRequest, request["id"])
            await moves.offer(
                session, row, world.provider_id, km=1.0, explanation=None, actor="test", now=utcnow(), settings=settings
            )
            await session.rollback()
        await asyncio.sleep(0)
        assert announced == []
        await offer_to(sessions, request["id"], world.provider_id)
        async with asyncio.timeout(BOUND_S):
            while not announced:
                await asyncio.sleep(0.01)
        assert announced == [frozenset({world.provider_id})]  # named: the hubs wake its streams without looking
    finally:
        await engine.dispose()


async def test_a_client_that_never_reads_is_disconnected_holding_no_connection(client, token, db, app, settings):
    """The slow-client policy, at the ASGI level: the stream's writes wait on the client; past
    feed_send_timeout_s the stream is closed and unregistered. Meanwhile no connection of the pool is out."""
    world = await build_world(client, token)
    await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    hub = OfferHub(settings, db)
    quick = settings.model_copy(update={"feed_send_timeout_s": 0.2, "feed_heartbeat_s": 0.05})
    waiter = hub.open(world.provider_id, 1, most=5)
    await hub.close()  # its safety scans stopped: any connection out below would be the stream's
    response = stream_response(hub, quick, waiter, await read_offers(db, world.provider_id, None), resumed=False)
    stuck, checked_out = asyncio.Event(), []
    pool = app.state.engine.sync_engine.pool

    async def never_reads(message) -> None:
        if message["type"] == "http.response.body":
            checked_out.append(pool.checkedout())
            stuck.set()
            await asyncio.Event().wait()  # the client's window is full: this write never completes

    async def receive():
        await asyncio.Event().wait()  # the client never says anything, nor goes

    with pytest.raises(Exception) as raised:  # sse-starlette's SendTimeoutError (a TimeoutError)
        async with asyncio.timeout(BOUND_S):
            await response({"type": "http", "method": "GET", "asgi": {"spec_version": "2.4"}}, receive, never_reads)
    assert isinstance(raised.value, TimeoutError) or any(
        isinstance(e, TimeoutError) for e in getattr(raised.value, "exceptions", ())
    )
    assert stuck.is_set() and set(checked_out) == {0}
    assert hub.open_streams == 0


async def test_the_hub_wakes_only_the_streams_of_providers_with_a_new_offer(client, token, db, settings):
    world = await build_world(client, token)
    hub = OfferHub(settings, db)
    ours, theirs = hub.open(world.provider_id, 1, most=5), hub.open(world.other_provider_id, 2, most=5)
    try:
        await hub.scan()  # what is there already counts as seen
        ours.woken.clear(), theirs.woken.clear()
        await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
        await hub.scan()
        assert ours.woken.is_set() and not theirs.woken.is_set()
        ours.woken.clear()
        await hub.scan()  # nothing new since
        assert not ours.woken.is_set()
    finally:
        hub.close_stream(ours), hub.close_stream(theirs)
        await hub.close()


async def test_a_named_provider_is_woken_without_a_scan_and_the_names_fold(client, token, db, settings):
    world = await build_world(client, token)
    hub = OfferHub(settings, db)
    ours, theirs = hub.open(world.provider_id, 1, most=5), hub.open(world.other_provider_id, 2, most=5)
    try:
        await hub.close()  # no safety scans: only the poke below can wake anyone
        ours.woken.clear(), theirs.woken.clear()
        hub.poke(named_providers(f"{world.provider_id}"))
        assert ours.woken.is_set() and not theirs.woken.is_set() and hub.scans == 0
    finally:
        hub.close_stream(ours), hub.close_stream(theirs)
    notifier = OfferNotifier("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    notifier._providers, notifier._unknown = {7, 3}, False
    assert notifier._payload(False) == "3,7" and named_providers("3,7") == {3, 7}
    notifier._providers, notifier._unknown = {7}, True  # one commit did not say whom: everyone looks
    assert notifier._payload(False) == "" and named_providers("") == frozenset()
    assert named_providers("3,x") == frozenset()


async def test_positions_round_trip():
    position = Position(utcnow().replace(microsecond=123456), frozenset({3, 1, 2}))
    assert position.encode().endswith(".1.2.3")
    assert parse_position(position.encode()) == position
    assert parse_position(None) is None and parse_position("") is None


async def test_the_streams_of_one_provider_woken_together_share_one_read(client, token, db, settings, monkeypatch):
    world = await build_world(client, token)
    first = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    behind = (await read_offers(db, world.provider_id, None)).position  # has seen the first
    second = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    further_back = Position(behind.since - timedelta(minutes=1), frozenset())  # has seen nothing
    reads = []
    real = stream_module.query_offers

    async def counted(*args):
        reads.append(args[1:])
        return await real(*args)

    monkeypatch.setattr(stream_module, "query_offers", counted)
    hub = OfferHub(settings, db)
    one, two = await asyncio.gather(hub.read(world.provider_id, behind), hub.read(world.provider_id, further_back))
    assert len(reads) == 1 and reads[0] == (world.provider_id, further_back.since)
    assert [o.id for o, _ in one.events] == [second] and [o.id for o, _ in two.events] == [first, second]
    assert (await hub.read(world.provider_id, one.position)).events == [] and len(reads) == 2  # a later one reads anew


async def test_make_runs_set_up_an_operators_emergency_reaches_the_stream(tmp_path):
    """SQLite, the scheduler embedded on its own thread and loop (`make run`): its offer pokes the API's hub
    across threads."""
    url = f"sqlite+aiosqlite:///{tmp_path}/embedded.db"
    await asyncio.to_thread(migrate, url)
    app = create_app(Settings(database_url=url, scheduler_enabled=True), run_scheduler=True)
    token = token_factory(await clean_database(app.state.sessions))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())  # with its lifespan: the scheduler starts and stops
    try:
        async with asyncio.timeout(BOUND_S):
            while not server.started:
                await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=BOUND_S) as client:
            world = await build_world(client, token)
            async with stream(base, world.provider) as feed:
                await feed.until_ready()
                request = await new_request(client, world, urgency="emergency", service="emergency")
                event = await feed.next()
        assert event.event == "offer" and json.loads(event.data)["request_id"] == request["id"]
    finally:
        server.should_exit = True
        await serving
