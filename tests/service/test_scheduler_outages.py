"""Schedulers outlive a database outage: the leader, a standby, two contenders and the embedded one.

The outage is staged by a TCP proxy in front of the shared PostgreSQL (tests/proxy.py): `cut` closes every
connection the scheduler has, as a restart does, and refuses new ones for a while. The API and the test
itself talk to the database directly, so requests are still registered while the scheduler is cut off.
Waits are bounded polls, never timed assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import pytest
from sqlmodel import select

from service.db import asyncpg_dsn
from service.heartbeat import check
from service.leader import LOCK_KEY, Backoff, run_scheduler_process
from service.lifecycle.models import ServiceRequest
from service.scheduler import EmbeddedScheduler
from tests.service.helpers import build_world, new_request
from tests.service.test_scheduler import dispatcher_of

WAIT_S = 30.0  # bounded waits: generous, the machine is shared


async def until(condition, what: str, seconds: float = WAIT_S):
    """Poll `condition()` (sync or async) until it returns something truthy; fail after `seconds`."""
    for _ in range(int(seconds / 0.05)):
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def state_of(path) -> str | None:
    try:
        return json.loads(path.read_text())["state"]
    except (OSError, ValueError):
        return None


async def status_of(db, request_id: int) -> str:
    async with db() as session:
        return (await session.exec(select(ServiceRequest.status).where(ServiceRequest.id == request_id))).one()


async def offered(db, request_id: int) -> None:
    await until(lambda: _is_offered(db, request_id), f"request {request_id} offered")


async def _is_offered(db, request_id: int) -> bool:
    return await status_of(db, request_id) == "assigned"


def through(pg_proxy, settings, tmp_path, name: str, **changes):
    """Scheduler settings whose database connections all go through the proxy, with a fast heartbeat."""
    return settings.model_copy(
        update={
            "database_url": pg_proxy.route(settings.database_url),
            "heartbeat_path": tmp_path / name,
            "heartbeat_s": 0.1,
            **changes,
        }
    )


@contextlib.asynccontextmanager
async def scheduler_process(settings):
    """`run_scheduler_process` on this loop until the block ends; it must not have returned before that."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler_process(settings, stop, handle_signals=False))
    try:
        yield task
        assert not task.done(), "the scheduler exited on its own"
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def lock_is_taken(dsn: str) -> bool:
    contender = await asyncpg.connect(dsn)
    try:
        taken = not await contender.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        if not taken:
            await contender.fetchval("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        return taken
    finally:
        await contender.close()


@pytest.mark.parametrize("kind", ["restart", "network"])
async def test_the_leader_survives_a_database_outage_retakes_the_lock_and_listens_again(
    client, token, db, settings, pg_proxy, tmp_path, kind
):
    world = await build_world(client, token)
    # A tick far longer than the test: only pokes dispatch, so what follows shows the LISTEN working again
    # and the backlog picked up when leadership is regained.
    leader = through(pg_proxy, settings, tmp_path, "beat", dispatch_tick_s=60.0)
    async with scheduler_process(leader) as process:
        await until(lambda: state_of(leader.heartbeat_path) == "leader", "leading")
        before = await new_request(client, world, service="emergency", urgency="emergency")
        await offered(db, before["id"])

        await pg_proxy.outage(kind, seconds=1.5)
        await until(lambda: state_of(leader.heartbeat_path) == "reconnecting", "reconnecting")
        during = await new_request(client, world, service="emergency", urgency="emergency")  # its NOTIFY is lost
        assert not process.done()
        await until(lambda: state_of(leader.heartbeat_path) == "leader", "leading again")
        assert await lock_is_taken(asyncpg_dsn(settings.database_url))
        await offered(db, during["id"])
        after = await new_request(client, world, service="emergency", urgency="emergency")
        await offered(db, after["id"])
        assert check(leader.heartbeat_path, leader.heartbeat_s).healthy
    assert not await lock_is_taken(asyncpg_dsn(settings.database_url))  # released at the stop


@pytest.mark.parametrize("kind", ["restart", "network"])
async def test_a_standby_survives_an_outage_and_takes_over_when_the_leader_goes(settings, db, pg_proxy, tmp_path, kind):
    holder = await asyncpg.connect(asyncpg_dsn(settings.database_url))  # the leader, on a direct connection
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        standby = through(pg_proxy, settings, tmp_path, "beat")
        async with scheduler_process(standby):
            await until(lambda: state_of(standby.heartbeat_path) == "standby", "standing by")
            await pg_proxy.outage(kind, seconds=1.0)
            await until(lambda: state_of(standby.heartbeat_path) == "reconnecting", "reconnecting")
            await until(lambda: state_of(standby.heartbeat_path) == "standby", "standing by again")
            await holder.close()  # the leader goes
            await until(lambda: state_of(standby.heartbeat_path) == "leader", "taking over")
    finally:
        await holder.close()


async def test_two_schedulers_through_outages_never_lead_at_once(settings, db, pg_proxy, tmp_path, monkeypatch):
    import service.leader as module

    leading, most, terms = 0, 0, 0
    real_running_jobs = module.running_jobs

    @contextlib.asynccontextmanager
    async def counted(settings):
        nonlocal leading, most, terms
        async with real_running_jobs(settings) as dispatcher:
            leading, terms = leading + 1, terms + 1
            most = max(most, leading)
            try:
                yield dispatcher
            finally:
                leading -= 1

    monkeypatch.setattr(module, "running_jobs", counted)
    first, second = (through(pg_proxy, settings, tmp_path, name) for name in ("first", "second"))

    def states() -> list[str | None]:
        return sorted([state_of(first.heartbeat_path), state_of(second.heartbeat_path)], key=str)

    async with scheduler_process(first), scheduler_process(second):
        for _ in range(3):
            await until(lambda: states() == ["leader", "standby"], "one leader and one standby")
            await pg_proxy.cut(refuse_s=0.5)
            await until(lambda: "leader" not in states(), "no leader while the database is away")
        await until(lambda: states() == ["leader", "standby"], "one leader and one standby")
    assert most == 1 and terms >= 4


async def test_the_embedded_scheduler_keeps_dispatching_across_an_outage(
    client, token, db, app, settings, pg_proxy, tmp_path
):
    world = await build_world(client, token)
    embedded = EmbeddedScheduler(through(pg_proxy, settings, tmp_path, "beat", dispatch_tick_s=0.2))
    await asyncio.to_thread(embedded.start)
    try:
        with dispatcher_of(app, embedded):
            await pg_proxy.cut(refuse_s=1.5)
            during = await new_request(client, world, service="emergency", urgency="emergency")
            assert await status_of(db, during["id"]) == "open"  # the scheduler cannot reach the database yet
            await pg_proxy.accepting()
            await offered(db, during["id"])
            after = await new_request(client, world, service="emergency", urgency="emergency")
            await offered(db, after["id"])
        assert embedded._thread.is_alive()
        assert check(tmp_path / "beat", 0.1).healthy
    finally:
        await asyncio.to_thread(embedded.stop)


def test_reconnection_waits_double_up_to_a_cap_with_jitter():
    low, high = Backoff(first_s=0.5, cap_s=8.0, rng=lambda: 0.0), Backoff(first_s=0.5, cap_s=8.0, rng=lambda: 1.0)
    assert [round(high.next(), 3) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [round(low.next(), 3) for _ in range(3)] == [0.25, 0.5, 1.0]  # jitter: down to half the step
    high.reset()
    assert high.next() == 0.5


async def test_losing_the_lock_cancels_the_running_tick_at_once(settings, monkeypatch):
    import service.scheduler as module
    from service.dispatching.open_requests import Tick

    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless(*_args, **_kwargs):
        started.set()
        try:
            await asyncio.sleep(2.0)  # an offer a shutdown would let finish (it waits up to 10 s)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Tick(0, False)

    monkeypatch.setattr(module, "dispatch_open_requests", endless)

    async def lead_then_lose_the_lock():
        async with module.running_jobs(settings.model_copy(update={"dispatch_tick_s": 0.05})) as dispatcher:
            dispatcher.poke()
            await started.wait()
            raise ConnectionResetError("the lock connection went")

    try:
        await asyncio.wait_for(lead_then_lose_the_lock(), WAIT_S)
    except ConnectionResetError:
        pass
    assert cancelled.is_set()  # not left to finish: another scheduler may be leading already
