"""The four faults, and how each is watched from its injection on.

Each fault is injected at a recorded wall time; then, for the fault's window, the benchmark polls
`/readyz`, creates one new emergency (retried with its key like any operator's) and waits for its first
offer, while the sampler records the backlog and who holds the leader lock. What a supervisor would do
is part of the fault (a killed process is started again at once); anything more the service needs after
the window is done by the benchmark and reported as a human's intervention.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

import httpx

from benchmarks.faults.clients import Ledger, Run, Timeline, create
from benchmarks.faults.cluster import PrivateCluster
from benchmarks.faults.layout import LEADS, WAITS, Layout, Sampler, first_ready, offered_at, wait_for_log
from benchmarks.faults.report import FaultResult

NAMES = {
    "api": "kill -9 of an API replica, restarted at once",
    "scheduler": "kill -9 of the scheduler, a new one started",
    "takeover": "a second scheduler started, the first killed -9",
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


async def start_leader(layout: Layout) -> None:
    process = layout.start_scheduler()
    await wait_for_log(process, layout.log_of(process), LEADS)
    await asyncio.sleep(1.0)  # it LISTENs right after taking the lock


# --------------------------------------------------------------------------- the faults

async def kill_api(ctx: Context, fault: FaultResult) -> None:
    """The first replica; the clients it served are refused by it and go to the next while it is away."""
    ctx.layout.kill(ctx.layout.apis[0])
    ctx.layout.start_api(0)  # as a supervisor restarts it


async def kill_scheduler(ctx: Context, fault: FaultResult) -> None:
    leader = ctx.layout.leader()
    if leader is None:
        raise RuntimeError("no scheduler leads before the scheduler fault")
    ctx.layout.kill(leader)
    ctx.layout.start_scheduler()  # as a supervisor starts a new one


async def before_takeover(ctx: Context) -> None:
    standby = ctx.layout.start_scheduler()
    await wait_for_log(standby, ctx.layout.log_of(standby), WAITS)


async def kill_leader(ctx: Context, fault: FaultResult) -> None:
    leader = ctx.layout.leader()
    if leader is None or len(ctx.layout.alive_schedulers()) < 2:
        raise RuntimeError("the takeover needs a leader and a waiting scheduler")
    ctx.layout.kill(leader)


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
    body = {"elder_id": ctx.rng.choice(ctx.probe_elders), "service": "emergency", "urgency": "emergency",
            "channel": "phone", "note": f"fault benchmark probe: {fault.name}"}
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
        await start_leader(layout)
        fault.human.append(f"no scheduler was left ({exits or 'none exited'}): one started")
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
        fault.drained = next((s.at for s in watched if s.at >= fault.probe_offered and s.open is not None
                              and s.open <= ctx.backlog_before), None)
    await supervise(ctx, fault, exits_before)
    return fault
