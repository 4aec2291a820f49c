"""The four faults, and how each is watched from its injection on.

Each fault is injected at a recorded wall time; then, for the fault's window, the benchmark polls
`/readyz`, creates one new emergency (retried with its key like any operator's) and waits for its first
offer, while the sampler records the backlog and who holds the leader lock. What Docker would do is part
of the fault (a killed process is started again at once: `restart: unless-stopped`); anything more the
service needs after the window is done by the benchmark and reported as a human's intervention.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
import uuid
from dataclasses import dataclass

import httpx

from benchmarks.faults.clients import Ledger, Run, Timeline, create
from benchmarks.faults.cluster import PrivateCluster
from benchmarks.faults.layout import Layout, Sampler, first_ready, offered_at, wait_for_state
from benchmarks.faults.report import FaultResult

NAMES = {
    "api": "kill -9 of an API replica, restarted at once",
    "scheduler": "kill -9 of the leading scheduler, restarted at once",
    "takeover": "a new scheduler started, the leader killed -9",
    "postgres": "PostgreSQL restarted (fast shutdown, start)",
}


@dataclass
class Context:
    layout: Layout
    cluster: PrivateCluster
    dsn: str
    sampler: Sampler
    rec: Timeline
    ledger: Ledger
    run: Run
    probe_client: httpx.AsyncClient
    probe_elders: list[int]
    window: float
    backlog_before: int  # open requests before the faults (95th percentile): "drained" is back to this
    rng: random.Random
    stragglers: list[asyncio.Task]  # probe creates still retrying when their window ended


async def start_schedulers(layout: Layout) -> None:
    """Two, as in docker-compose.yml: the first to take the lock leads, the other waits as a hot standby."""
    leader = layout.start_scheduler()
    await wait_for_state(layout, leader, "leader")
    await asyncio.sleep(1.0)  # it LISTENs right after taking the lock
    await start_standby(layout)


async def start_standby(layout: Layout) -> subprocess.Popen:
    standby = layout.start_scheduler()
    await wait_for_state(layout, standby, "standby")
    return standby


def leading(ctx: Context, fault: str) -> subprocess.Popen:
    leader = ctx.layout.leader()
    if leader is None or len(ctx.layout.alive_schedulers()) < 2:
        raise RuntimeError(f"the {fault} fault needs a leader and a standby")
    return leader


# --------------------------------------------------------------------------- the faults


async def kill_api(ctx: Context, fault: FaultResult) -> None:
    """The first replica; the clients it served are refused by it and go to the next while it is away."""
    ctx.layout.kill(ctx.layout.apis[0])
    ctx.layout.start_api(0)  # as Docker restarts it


async def kill_scheduler(ctx: Context, fault: FaultResult) -> asyncio.Task:
    """The standby should take over; the killed one is started again at once, as Docker would, and should
    come back as the standby (the fault's note says whether both happened)."""
    leader = leading(ctx, "scheduler")
    standby = next(p for p in ctx.layout.alive_schedulers() if p is not leader)
    ctx.layout.kill(leader)
    restarted, started = ctx.layout.start_scheduler(), time.monotonic()

    async def settle() -> None:
        with contextlib.suppress(RuntimeError):
            await wait_for_state(ctx.layout, restarted, "standby", ctx.window - 1)
        waited = time.monotonic() - started
        leads = ctx.layout.leader()
        took = (
            "the standby took over"
            if leads is standby
            else f"the standby did not take over (leader: {getattr(leads, 'pid', 'none')})"
        )
        state = ctx.layout.state(restarted) or "not running"
        fault.detail = f"scheduler fault: {took}; the restarted one was {state} after {waited:.1f} s"

    return asyncio.create_task(settle())


async def before_takeover(ctx: Context) -> None:
    """A third scheduler, as a rolling deploy starts the new one before the old one goes."""
    leading(ctx, "takeover")
    await start_standby(ctx.layout)


async def kill_leader(ctx: Context, fault: FaultResult) -> None:
    """Not started again: the new scheduler replaces it (two remain, one of them the old standby leading)."""
    ctx.layout.kill(leading(ctx, "takeover"))


async def restart_postgres(ctx: Context, fault: FaultResult) -> asyncio.Task:
    """Stopped first (sessions terminated), then started while the window is already being watched."""
    started = time.monotonic()
    await asyncio.to_thread(ctx.cluster.stop)

    async def start() -> None:
        await asyncio.to_thread(ctx.cluster.start)
        fault.detail = f"PostgreSQL was down {time.monotonic() - started:.1f} s"

    return asyncio.create_task(start())


INJECT = {"api": kill_api, "scheduler": kill_scheduler, "takeover": kill_leader, "postgres": restart_postgres}
PREPARE = {"takeover": before_takeover}


# --------------------------------------------------------------------------- watching one fault


async def probe(ctx: Context, fault: FaultResult, until: float) -> None:
    """A new emergency right after the fault: when was it created and first offered?"""
    body = {
        "elder_id": ctx.rng.choice(ctx.probe_elders),
        "service": "emergency",
        "urgency": "emergency",
        "channel": "phone",
        "note": f"fault benchmark probe: {fault.name}",
    }
    key = str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))
    creating = asyncio.create_task(create(ctx.probe_client, ctx.rec, ctx.ledger, body, key, ctx.run))
    done, _ = await asyncio.wait({creating}, timeout=max(0.0, until - time.monotonic()))
    if not done:  # it goes on retrying with its key: the audit needs its answer
        ctx.stragglers.append(creating)
        return
    made = creating.result()
    if made is not None:
        fault.probe_created, fault.probe_offered = await offered_at(ctx.dsn, made[0], until)


async def supervise(ctx: Context, fault: FaultResult, exits_before: int) -> None:
    """After the window: what the service still needs is done here, and counted against it."""
    layout = ctx.layout
    layout.note_exits()
    exits = "; ".join(layout.exits[exits_before:])
    for replica, api in enumerate(layout.apis):
        if api is None or api.poll() is not None:
            layout.start_api(replica)
            await layout.api_ready(replica)
            fault.human.append(f"API replica {replica} was gone: started again")
    if not layout.alive_schedulers():
        await start_schedulers(layout)
        fault.human.append(f"no scheduler was left ({exits or 'none exited'}): two started")
    elif layout.leader() is None:
        fault.human.append("schedulers ran but none led")


async def run_fault(ctx: Context, kind: str) -> FaultResult:
    if kind in PREPARE:
        await PREPARE[kind](ctx)
    fault = FaultResult(NAMES[kind], injected=time.time(), window=ctx.window, leader_lost=kind != "api")
    exits_before = len(ctx.layout.exits)
    holder = next((s.leader for s in reversed(ctx.sampler.samples) if s.leader is not None), None)
    until = time.monotonic() + ctx.window
    pending = await INJECT[kind](ctx, fault)
    # every replica's /readyz: the fault's "ready" is the last of them
    ready = asyncio.gather(*(first_ready(url, until) for url in ctx.layout.base_urls))
    await probe(ctx, fault, until)
    times = await ready
    fault.ready = None if None in times else max(times)
    if pending is not None:
        await pending
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    watched = ctx.sampler.between(fault.injected, fault.injected + ctx.window)
    fault.leader = next((s.at for s in watched if s.leader is not None and s.leader != holder), None)
    counts = [s.open for s in watched if s.open is not None]
    fault.backlog_peak = max(counts) if counts else None
    if fault.probe_offered is not None:
        fault.drained = next(
            (
                s.at
                for s in watched
                if s.at >= fault.probe_offered and s.open is not None and s.open <= ctx.backlog_before
            ),
            None,
        )
    await supervise(ctx, fault, exits_before)
    return fault
