"""The run in order, the command line, and the cleanup that runs however the benchmark ends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np

import benchmarks.faults
from benchmarks.faults.clients import Ledger, Run, Timeline, operator, provider_app
from benchmarks.faults.cluster import PrivateCluster
from benchmarks.faults.inject import NAMES, Context, run_fault, start_schedulers
from benchmarks.faults.layout import Layout, Sampler
from benchmarks.faults.report import RESUME_TARGET_S, UNEXPECTED, FaultResult, report
from benchmarks.load.checks import drain, integrity, log_problems, offer_latency
from benchmarks.load.clients import feed_audit
from benchmarks.load.common import CHILDREN
from benchmarks.load.servers import prepare_service_database, stop_process
from benchmarks.pg import recreate_database

DB = "homecare_faults"
GRACE_S = 30  # after the last fault, unanswered calls are retried this long before a client gives up
CLUSTERS: list[PrivateCluster] = []
WORKDIRS: list[Path] = []


async def emergency_elders(dsn: str) -> list[int]:
    """Elders whose emergency was offered in the warm-up: a probe for them is offered when dispatch works."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT r.elder_id FROM service_request r JOIN assignment a "
            "ON a.request_id = r.id WHERE r.urgency = 'emergency' ORDER BY 1"
        )
    finally:
        await connection.close()
    return [r["elder_id"] for r in rows]


async def guarded(rec: Timeline, name: str, client_work) -> None:
    try:
        await client_work
    except Exception as exc:  # noqa: BLE001 - a client's surprise is a failed check of the run; the rest go on
        rec.note(name, f"client stopped: {exc!r}")


async def start_service(cluster: PrivateCluster, workdir: Path, replicas: int):
    """The database migrated and seeded (as for the load benchmark), the API up, a scheduler leading and
    another waiting as its standby."""
    cluster.create()
    await recreate_database(DB, server=cluster.server)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/{DB}"
    operator_token, tokens, elders = await prepare_service_database(False, url=url)
    layout = Layout(workdir, url, replicas)
    for replica in range(replicas):
        layout.start_api(replica)
        await layout.api_ready(replica)
    await start_schedulers(layout)
    return layout, operator_token, tokens, elders


async def audit(ctx: Context, faults: list[FaultResult], apps: list[str], drained: tuple[float, int]):
    """The load benchmark's database audit and feed audit; (checks, notes)."""
    rec, ledger = ctx.rec, ctx.ledger
    feed = await feed_audit(ctx.layout.base_urls[0], apps, ledger, rec)
    checks = await integrity(ledger, [rec], ctx.dsn)
    # its first row counts every error answer, which faults are expected to cause: answers are judged per
    # class in the report; here the clients' own checks (an id for two keys, ...) take that row
    checks[0] = ("client checks failed (an id for two keys ...) or retries given up", 0, rec.failed_checks)
    checks.append(("(app, assignment) pairs an app's feed cursor never showed", 0, feed["missed"]))
    ids = list(ledger.created)
    latency = (await offer_latency(ids, ctx.dsn))["latency"].get("emergency", np.array([]))
    emergencies = sum(urgency == "emergency" for urgency, _, _ in ledger.created.values())
    notes = [
        (
            f"{len(ids):,} requests acknowledged ({emergencies} emergencies), {len(ledger.visits):,} visits "
            f"checked in, checked out: {dict(ledger.verification)}; accept races lost: {ledger.race_lost}"
        ),
        (
            f"emergencies of the whole run, created → first offered: p50 {np.median(latency) * 1000:.0f} ms, "
            f"p99 {np.percentile(latency, 99) * 1000:.0f} ms, max {latency.max():.1f} s"
            if len(latency)
            else "no emergency was offered"
        ),
        (
            f"backlog before the faults (open requests, sampled 4 times a second): {ctx.backlog_before} "
            "(95th percentile of the warm-up); 'drained' is the first sample at or below that once a new "
            "emergency has been offered"
        ),
        f"after the clients stopped: {drained[0]:.1f} s until no request was open ({drained[1]} left)",
        *(f.detail for f in faults if f.detail),
        *ctx.layout.exits,
        f"service logs: {log_problems(*ctx.layout.logs)[0]} ERROR/Traceback lines",
    ]
    unexpected = rec.by_endpoint(UNEXPECTED)
    if unexpected:
        notes.append(
            "answers other than ok/503/connection error, whole run, by endpoint: "
            + ", ".join(f"`{label}` {n}" for label, n in unexpected.most_common())
        )
    return checks, notes


async def main(args) -> int:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="homecare-faults-"))
    WORKDIRS.append(workdir)
    cluster = PrivateCluster()
    CLUSTERS.append(cluster)
    print(f"# private PostgreSQL 15 in {cluster.base} on port {cluster.port}; logs in {workdir}", file=sys.stderr)
    layout, operator_token, tokens, elders = await start_service(cluster, workdir, args.api)
    dsn = f"{cluster.server}/{DB}"

    rec, ledger, run, stop = Timeline("faults"), Ledger(), Run(), asyncio.Event()
    sampler = Sampler(dsn)
    sampling = asyncio.create_task(sampler.run(stop))
    operators = [layout.client(operator_token, i) for i in range(args.operators)]
    apps = [tokens[j % len(tokens)][1] for j in range(args.apps)]
    app_clients = [layout.client(token, j) for j, token in enumerate(apps)]
    probe_client = layout.client(operator_token, 0)  # the replica the API fault kills: it must go elsewhere
    work = [
        guarded(rec, f"operator {i}", operator(i, c, rec, ledger, elders, run, args.seed, args.think))
        for i, c in enumerate(operators)
    ]
    work += [
        guarded(rec, f"app {j}", provider_app(j, c, rec, ledger, run, args.seed, 1.0))
        for j, c in enumerate(app_clients)
    ]
    working = asyncio.gather(*work)
    started = time.time()
    print(f"# warm-up {args.warmup:.0f} s: {args.operators} operators, {args.apps} apps", file=sys.stderr)
    await asyncio.sleep(args.warmup)
    before = [s.open for s in sampler.between(started, time.time()) if s.open is not None]
    ctx = Context(
        layout,
        cluster,
        dsn,
        sampler,
        rec,
        ledger,
        run,
        probe_client,
        await emergency_elders(dsn) or [e for e, _ in elders],
        args.seconds,
        int(np.percentile(before, 95)) if before else 0,
        random.Random(args.seed),
        [],
    )
    faults = []
    for kind in args.faults:
        print(f"# fault: {NAMES[kind]}", file=sys.stderr)
        faults.append(await run_fault(ctx, kind))
    faults_over = time.time()
    run.end(GRACE_S)
    await working
    await asyncio.gather(*ctx.stragglers)
    drained = await drain(dsn, limit=30)
    stop.set()
    await sampling
    checks, notes = await audit(ctx, faults, apps, drained)
    for client in [*operators, *app_clients, probe_client]:
        await client.aclose()
    layout.note_exits()

    # a fault's answers: from its injection to the next one's; the last one's until the clients stopped
    for fault, end in zip(faults, [f.injected for f in faults[1:]] + [faults_over], strict=True):
        fault.responses = rec.count(fault.injected, end)
    windows = [
        ("before the faults (warm-up)", rec.count(started, faults[0].injected if faults else faults_over)),
        *((f.name, f.responses) for f in faults),
        ("after the faults (grace, drain, feed audit)", rec.count(faults_over, time.time())),
    ]
    command = " ".join([".venv/bin/python -m benchmarks.faults", *sys.argv[1:]])
    intro = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores shared · private PostgreSQL 15 · "
        f"{args.api} `serve --no-scheduler` API replicas + 2 `homecare scheduler` (leader, standby) · "
        f"{args.operators} operators "
        f"(one create per ~{args.think:g} s each), {args.apps} provider apps, retrying with the same keys · "
        f"warm-up {args.warmup:.0f} s, then each fault watched {args.seconds:.0f} s · seed {args.seed} · "
        f"load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f}"
    )
    print(report(f"## Fault benchmark (`{command}`)", intro, faults, windows, checks, notes, rec.examples))
    if args.keep:
        print(f"# kept the cluster in {cluster.base} (stopped) and the logs in {workdir}", file=sys.stderr)
    met = all(found == expected for _, expected, found in checks) and not rec.by_endpoint(UNEXPECTED)
    return (
        0 if met and all(f.resumed is not None and f.resumed <= RESUME_TARGET_S and not f.human for f in faults) else 1
    )


def cleanup(keep: bool) -> None:
    while CHILDREN:
        process = CHILDREN.pop()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            stop_process(process)
    for cluster in CLUSTERS:
        if keep:
            with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
                cluster.stop()
        else:
            cluster.remove()
    if not keep:
        for workdir in WORKDIRS:
            shutil.rmtree(workdir, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults", description=benchmarks.faults.__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long each fault is watched before the next (default 20)"
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="steady load before the first fault (default 10)")
    parser.add_argument(
        "--faults",
        nargs="+",
        choices=list(NAMES),
        default=list(NAMES),
        help="which faults, in this order (default: all four)",
    )
    parser.add_argument(
        "--api",
        type=int,
        default=2,
        help="API replicas (default 2, as docker-compose.yml); a client refused by one tries the next",
    )
    parser.add_argument("--operators", type=int, default=10, help="operator clients (default 10)")
    parser.add_argument(
        "--think", type=float, default=0.5, help="mean seconds an operator waits between creates (default 0.5)"
    )
    parser.add_argument("--apps", type=int, default=20, help="provider apps, spread over the providers (default 20)")
    parser.add_argument("--seed", type=int, default=2026, help="same seed, same choices")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's directory and the logs")
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 300 or not 2 <= args.warmup <= 300:
        parser.error("--seconds must be 5..300 and --warmup 2..300")
    if not 1 <= args.api <= 4 or not 1 <= args.operators <= 200 or not 0 <= args.apps <= 500 or args.think <= 0:
        parser.error("--api must be 1..4, --operators 1..200, --apps 0..500, --think > 0")
    return args


def run(argv: list[str] | None = None) -> int:
    args = parse(argv)

    def terminated(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return asyncio.run(main(args))
    except KeyboardInterrupt:
        print("interrupted: stopping the servers and removing the private cluster", file=sys.stderr)
        return 130
    finally:
        cleanup(args.keep)
