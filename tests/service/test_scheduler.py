"""The scheduler: job settings, the poked dispatcher, and one leader among scheduler processes."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from service.db import asyncpg_dsn
from service.dispatching.open_requests import Tick
from service.leader import LOCK_KEY, run_scheduler_process
from service.scheduler import Dispatcher, EmbeddedScheduler, build_scheduler
from tests.service.helpers import build_world, new_request

pytestmark = pytest.mark.asyncio


async def test_jobs_and_their_defaults(app, settings):
    scheduler = build_scheduler(app.state.sessions, settings, Dispatcher(app.state.sessions, settings))
    scheduler.start(paused=True)  # defaults are applied to jobs when the scheduler starts
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert set(jobs) == {
        "dispatch_tick",
        "offer_expiry",
        "missing_check_out",
        "missed_visits",
        "monthly_plan",
        "provider_quality",
        "idempotency_keys",
        "escalation",
    }
    # An unanswered emergency reaches the next providers within HOMECARE_ESCALATE_AFTER_S + 1 s.
    assert jobs["escalation"].trigger.interval.total_seconds() == 1
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 300
    plan = str(jobs["monthly_plan"].trigger)
    assert "day='1'" in plan and "hour='0'" in plan and "minute='10'" in plan
    assert str(scheduler.timezone) == "Asia/Shanghai"


async def status_within(client, world, request_id: int, status: str, seconds: float) -> str:
    """The request's status once it is `status`, or when `seconds` have passed."""
    for _ in range(int(seconds / 0.02)):
        await asyncio.sleep(0.02)
        detail = (await client.get(f"/api/v1/requests/{request_id}", headers=world.operator)).json()
        if detail["status"] == status:
            break
    return detail["status"]


@contextlib.contextmanager
def dispatcher_of(app, dispatcher):
    """The app pokes `dispatcher` instead of its own for a while."""
    own, app.state.dispatcher = app.state.dispatcher, dispatcher
    try:
        yield dispatcher
    finally:
        app.state.dispatcher = own


async def test_a_new_emergency_pokes_the_embedded_dispatcher(client, token, db, app, settings):
    world = await build_world(client, token)
    with dispatcher_of(app, Dispatcher(app.state.sessions, settings)):  # no tick is scheduled in this test
        request = await new_request(client, world, service="emergency", urgency="emergency")
        assert await status_within(client, world, request["id"], "assigned", seconds=2) == "assigned"


async def test_the_embedded_scheduler_dispatches_on_its_own_thread_when_poked(client, token, db, app, settings):
    world = await build_world(client, token)
    # A tick interval far longer than the test: only the poke across threads can dispatch in time.
    embedded = EmbeddedScheduler(settings.model_copy(update={"dispatch_tick_s": 60.0}))
    await asyncio.to_thread(embedded.start)
    try:
        with dispatcher_of(app, embedded):
            request = await new_request(client, world, service="emergency", urgency="emergency")
            assert await status_within(client, world, request["id"], "assigned", seconds=5) == "assigned"
    finally:
        await asyncio.to_thread(embedded.stop)
    assert not embedded._thread.is_alive()


async def test_pokes_during_a_tick_run_it_once_more(app, settings):
    dispatcher = Dispatcher(app.state.sessions, settings)
    runs = []

    async def slow_tick(*_args, **_kwargs):
        runs.append(1)
        await asyncio.sleep(0.05)
        return Tick(0, False)

    import service.scheduler as module

    original = module.dispatch_open_requests
    module.dispatch_open_requests = slow_tick
    try:
        first = asyncio.create_task(dispatcher.tick())
        await asyncio.sleep(0.01)
        dispatcher.poke()
        dispatcher.poke()
        await first
        await asyncio.sleep(0.01)
    finally:
        module.dispatch_open_requests = original
    assert len(runs) == 2  # the running tick, then exactly one more for both pokes


async def test_an_emergency_poke_cuts_the_running_tick_short_and_it_runs_again(app, settings, monkeypatch):
    import service.scheduler as module

    dispatcher = Dispatcher(app.state.sessions, settings)
    seen = []

    async def tick(*_args, interrupt, **_kwargs):
        seen.append(interrupt())
        if len(seen) == 1:
            dispatcher.poke(emergency=True)  # an emergency arrives during the first tick …
            seen.append(interrupt())  # … which is told to give way
            await asyncio.sleep(0.01)
            return Tick(5, True)
        return Tick(2, False)

    monkeypatch.setattr(module, "dispatch_open_requests", tick)
    assert await dispatcher.tick() == 7
    await asyncio.sleep(0.02)  # the poke's own task found the tick running and left it to loop
    assert seen == [False, True, False]  # the second tick starts with the flag cleared


async def test_routine_work_is_gathered_before_the_next_tick_but_an_emergency_is_not(app, settings, monkeypatch):
    import service.scheduler as module

    monkeypatch.setattr(module, "GATHER_S", 30.0)  # long enough that only a hurry ends it within the test
    dispatcher = Dispatcher(app.state.sessions, settings)
    started = []

    async def tick(*_args, **_kwargs):
        started.append(asyncio.get_running_loop().time())
        if len(started) == 1:
            dispatcher.poke()  # routine work arrives during the first tick
            await asyncio.sleep(0.01)
        return Tick(1, False)

    monkeypatch.setattr(module, "dispatch_open_requests", tick)
    running = asyncio.create_task(dispatcher.tick())
    await asyncio.sleep(0.3)
    assert len(started) == 1 and not running.done()  # gathering more work before the second tick
    dispatcher.poke(emergency=True)
    assert await asyncio.wait_for(running, 5) == 2  # the emergency ended the wait at once


async def test_the_shutdown_ends_the_gathering(app, settings, monkeypatch):
    import service.scheduler as module

    monkeypatch.setattr(module, "GATHER_S", 30.0)
    dispatcher = Dispatcher(app.state.sessions, settings)

    async def tick(*_args, **_kwargs):
        dispatcher.poke()
        return Tick(1, False)

    monkeypatch.setattr(module, "dispatch_open_requests", tick)
    running = asyncio.create_task(dispatcher.tick())
    await asyncio.sleep(0.1)
    await asyncio.wait_for(dispatcher.finish(timeout_s=5.0), 5)
    assert await asyncio.wait_for(running, 1) == 1


async def test_at_shutdown_the_tick_ends_its_offer_and_no_other_starts(app, settings, monkeypatch):
    import service.scheduler as module

    dispatcher = Dispatcher(app.state.sessions, settings)
    calls = []

    async def busy(*_args, interrupt, **_kwargs):  # a backlog that never ends
        calls.append(1)
        await asyncio.sleep(0.02)
        return Tick(1, not interrupt())

    monkeypatch.setattr(module, "dispatch_open_requests", busy)
    running = asyncio.create_task(dispatcher.tick())
    await asyncio.sleep(0.05)
    await dispatcher.finish(timeout_s=2.0)
    assert running.done() and not running.cancelled()
    before = len(calls)
    assert await dispatcher.tick() == 0 and len(calls) == before


async def test_only_one_scheduler_process_leads(settings, tmp_path):
    if settings.is_sqlite:
        pytest.skip("leadership is a PostgreSQL advisory lock; SQLite runs one embedded scheduler")
    dsn = asyncpg_dsn(settings.database_url)
    first_settings, second_settings = (
        settings.model_copy(update={"heartbeat_path": tmp_path / name, "heartbeat_s": 0.1}) for name in "ab"
    )
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(run_scheduler_process(first_settings, stop_first, handle_signals=False))
    await wait_for_state(first_settings.heartbeat_path, "leader")
    # While the first leads, another contender cannot take the lock …
    contender = await asyncpg.connect(dsn)
    try:
        assert await contender.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY) is False
    finally:
        await contender.close()
    second = asyncio.create_task(run_scheduler_process(second_settings, stop_second, handle_signals=False))
    await wait_for_state(second_settings.heartbeat_path, "standby")
    # … and takes over once the leader stops.
    stop_first.set()
    await asyncio.wait_for(first, 10)
    await wait_for_state(second_settings.heartbeat_path, "leader")
    stop_second.set()
    await asyncio.wait_for(second, 10)


async def wait_for_state(path, state: str, seconds: float = 30.0) -> None:
    import json

    for _ in range(int(seconds / 0.05)):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text())["state"] == state:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not say {state} within {seconds} s")


class RecordingDispatcher:
    def __init__(self) -> None:
        self.pokes: list[bool] = []

    def poke(self, emergency: bool = False) -> None:
        self.pokes.append(emergency)


async def test_who_pokes_the_dispatcher_and_for_what(client, token, db, app):
    from tests.service.helpers import offer_to

    world = await build_world(client, token)
    with dispatcher_of(app, RecordingDispatcher()) as recorder:
        keyed = {**world.operator, "Idempotency-Key": "p-1"}
        body = {"elder_id": world.elder_id, "service": "clean", "urgency": "routine"}
        assert (await client.post("/api/v1/requests", json=body, headers=keyed)).status_code == 201
        assert (await client.post("/api/v1/requests", json=body, headers=keyed)).status_code == 201  # replayed
        emergency = await new_request(client, world, service="emergency", urgency="emergency")
        alert = {"elder_id": world.elder_id, "kind": "fall", "at": "2026-11-20T08:00:00+08:00"}
        assert (await client.post("/api/v1/alerts", json=alert, headers=world.operator)).status_code == 200  # merged
        assignment_id = await offer_to(db, emergency["id"], world.provider_id)
        declined = await client.post(
            f"/api/v1/provider/assignments/{assignment_id}/decline", json={"reason": "没有人手"}, headers=world.provider
        )
        assert declined.status_code == 200
        # new routine work, nothing for the replay, the emergency, nothing for the merged alert, the re-opened emergency
        assert recorder.pokes == [False, True, True]


async def test_stopping_the_jobs_lets_the_running_tick_finish(settings, monkeypatch):
    import service.scheduler as module

    finished = asyncio.Event()
    started = asyncio.Event()

    async def slow(*_args, **_kwargs):
        started.set()
        await asyncio.sleep(0.2)
        finished.set()
        return Tick(1, False)

    monkeypatch.setattr(module, "dispatch_open_requests", slow)
    async with module.running_jobs(settings.model_copy(update={"dispatch_tick_s": 0.05})):
        await asyncio.wait_for(started.wait(), 5)
    assert finished.is_set()  # not cancelled midway by APScheduler's shutdown


async def test_offers_expired_by_the_job_wake_the_dispatcher_at_once(client, token, db, app, settings):
    from datetime import timedelta

    from sqlalchemy import update

    from service.db import utcnow
    from service.lifecycle.models import Assignment
    from service.scheduler import Jobs
    from tests.service.helpers import offer_to

    world = await build_world(client, token)
    request = await new_request(client, world, service="emergency", urgency="emergency")
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    recorder = RecordingDispatcher()
    jobs = Jobs(app.state.sessions, settings, recorder)
    await jobs.expire_offers()
    assert recorder.pokes == []  # nothing expired yet
    async with db() as session:
        await session.exec(
            update(Assignment).where(Assignment.id == assignment_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    await jobs.expire_offers()
    assert recorder.pokes == [True]
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "open"
