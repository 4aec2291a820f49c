"""The phases in order, the command line, and the cleanup that runs however the benchmark ends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import numpy as np

import benchmarks.load
from benchmarks.load.checks import drain, integrity, log_problems, offer_latency
from benchmarks.load.clients import Ledger, Recorder, Watch, feed_audit, run_phase
from benchmarks.load.common import BARE_DB, CHILDREN, HOST, PG, SERVICE_DB, SERVICE_URL, WORKDIRS
from benchmarks.load.report import Results, report
from benchmarks.load.servers import (
    cpu_share,
    cpu_snapshot,
    free_port,
    install_offer_trace,
    offer_trace,
    prepare_bare_database,
    prepare_service_database,
    serve_bare,
    start_process,
    stop_process,
    wait_for_leader,
    wait_ready,
)
from benchmarks.pg import recreate_database

CREATE = "POST /api/v1/requests"


# --------------------------------------------------------------------------- main


async def service_phases(args, workdir: Path) -> tuple[list[Recorder], Ledger, dict, dict, list, list, dict]:
    operator_token, tokens, elders = await prepare_service_database(args.keep_quotas)
    if args.trace_offers:
        await install_offer_trace()
    env = {**os.environ, "HOMECARE_DATABASE_URL": SERVICE_URL, "HOMECARE_SCHEDULER_ENABLED": "true"}
    if args.service_log_level:
        env["HOMECARE_LOG_LEVEL"] = args.service_log_level
    # Several apps share each provider's token here, and a dropped stream is noticed by the server a moment
    # after the app has reconnected: room for twice the apps per token.
    env["HOMECARE_FEED_MAX_PER_TOKEN"] = str(max(10, 2 * -(-args.apps // max(len(tokens), 1))))
    homecare = str(Path(sys.executable).parent / "homecare")
    separate = args.scheduler == "separate"
    # --api-processes N: N `homecare serve` processes, as the compose file's API replicas, each client
    # talking to one of them in turn (as a load balancer spreads connections); only the first may run jobs.
    servers, urls = [], []
    for k in range(args.api_processes):
        port, log = free_port(), workdir / ("service.log" if k == 0 else f"service-{k + 1}.log")
        servers.append(
            start_process(
                [
                    homecare,
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    *(["--no-scheduler"] if separate or k else []),
                ],
                env,
                log,
            )
        )
        urls.append(f"http://{HOST}:{port}")
        await wait_ready(servers[-1], f"{urls[-1]}/readyz", log)
    scheduler = None
    if separate:  # the production set-up: API replicas run no jobs; one leader process, woken by NOTIFY
        scheduler = start_process([homecare, "scheduler"], env, workdir / "scheduler.log")
        await wait_for_leader(scheduler, workdir / "scheduler.log")
    pids = {("server" if k == 0 else f"server {k + 1}"): s.pid for k, s in enumerate(servers)}
    pids["scheduler process"] = scheduler.pid if scheduler else None
    print(
        f"# service pids {[s.pid for s in servers]} at {urls}; {len(elders)} elders, {len(tokens)} providers",
        file=sys.stderr,
    )
    apps = [tokens[j % len(tokens)][1] for j in range(args.apps)]
    common = {
        "operators": args.operators,
        "operator_path": "/api/v1/requests",
        "operator_token": operator_token,
        "elders": elders,
    }
    plan = [
        (
            "mixed",
            {
                "seed": args.seed,
                "apps": apps,
                "poll": args.poll,
                "stream_drop_s": args.stream_drop_s if args.app_feed == "stream" else None,
                "replay_share": args.replay_share,
            },
        )
    ]
    if not args.no_create_only:  # the bare phase's very loop: one POST per turn, no replays
        plan.append(("create-only", {"seed": args.seed + 1, "replay_share": 0.0}))
    phases, cpu, watches, drains, ledger = [], {}, {}, [], Ledger()
    for name, extra in plan:
        rec, watches[name] = Recorder(name), Watch()
        before = await cpu_snapshot(pids)
        await run_phase(rec, urls, args.seconds, ledger=ledger, watch=watches[name], **common, **extra)
        cpu[name] = cpu_share(before, await cpu_snapshot(pids))
        phases.append(rec)
        drains.append((name, *(await drain())))
        if name == "mixed":
            audit = Recorder("feed audit")  # its calls stay out of the phase's table, its errors do not
            feed = await feed_audit(urls[0], apps, ledger, audit)
            rec.errors += audit.errors
            rec.error_count += audit.error_count
            if args.trace_offers:
                feed["trace"] = await offer_trace(feed["assignments"])
        print(f"# {name} phase done: {rec.error_count} errors", file=sys.stderr)
    for process in servers:
        stop_process(process)
    if scheduler is not None:
        stop_process(scheduler)
    return phases, ledger, cpu, watches, drains, elders, feed


async def bare_phase(args, workdir: Path, elders) -> tuple[Recorder, dict[str, float]]:
    await prepare_bare_database()
    port = free_port()
    server = start_process(
        [sys.executable, "-m", "benchmarks.load", "--serve-bare", str(port), "--dsn", f"{PG}/{BARE_DB}"],
        dict(os.environ),
        workdir / "bare.log",
    )
    await wait_ready(server, f"http://{HOST}:{port}/readyz", workdir / "bare.log")
    rec = Recorder("bare")
    before = await cpu_snapshot({"server": server.pid})
    await run_phase(
        rec,
        [f"http://{HOST}:{port}"],
        args.seconds,
        operators=args.operators,
        operator_path="/bare",
        operator_token=None,
        elders=elders,
        seed=args.seed + 2,
        replay_share=0.0,
    )
    cpu = cpu_share(before, await cpu_snapshot({"server": server.pid}))
    stop_process(server)
    return rec, cpu


async def main(args) -> int:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="homecare-bench-"))
    WORKDIRS.append(workdir)
    print(f"# preparing {SERVICE_DB} and {BARE_DB} (server logs in {workdir} until the end)", file=sys.stderr)
    await recreate_database(SERVICE_DB)
    await recreate_database(BARE_DB)
    phases, ledger, cpu, watches, drains, elders, feed = await service_phases(args, workdir)
    mixed_ids = [i for i, (_, _, phase) in ledger.created.items() if phase == "mixed"]
    seen = np.array(
        [
            ledger.first_seen_offer[i] - ledger.created[i][1]
            for i in mixed_ids
            if ledger.created[i][0] == "emergency" and i in ledger.first_seen_offer
        ]
    )
    latency, checks = await offer_latency(mixed_ids), await integrity(ledger, phases)
    if args.app_feed == "stream":
        checks.append(
            ("(app, assignment) pairs an app's offer stream never sent, across its reconnections", 0, feed["missed"])
        )
        checks.append(("(app, assignment) pairs an app's offer stream sent twice", 0, ledger.stream_twice))
    else:
        checks.append(("(app, assignment) pairs an app's feed cursor never showed", 0, feed["missed"]))
    bare, cpu["bare"] = await bare_phase(args, workdir, elders)
    phases.append(bare)
    checks[0] = (checks[0][0], 0, sum(rec.error_count for rec in phases))  # the bare phase's too

    def cpu_ms(phase: str, rate: float) -> str:  # less sensitive to other sessions' load than throughput
        cores = sum(v for k, v in cpu[phase].items() if k.startswith("server") or k == "scheduler process")
        return f"{cores * 1000 / rate:.1f}" if rate else "–"

    bare_rate = bare.endpoints["POST /bare"].statuses.get(201, 0) / bare.seconds
    ratios = [
        ("bare: one INSERT … RETURNING id through asyncpg", f"{bare_rate:.1f}", "1.00", cpu_ms("bare", bare_rate))
    ]
    for rec in phases[:-1]:
        rate = rec.endpoints[CREATE].statuses.get(201, 0) / rec.seconds
        ratio = f"{rate / bare_rate:.2f}" if bare_rate else "–"
        ratios.append((f"service, {rec.name} phase", f"{rate:.1f}", ratio, cpu_ms(rec.name, rate)))
    results = Results(
        phases,
        ledger,
        checks,
        latency,
        seen,
        ratios,
        cpu,
        watches,
        drains,
        log_problems(*sorted(workdir.glob("service*.log")), workdir / "scheduler.log"),
        feed,
    )
    command = " ".join([".venv/bin/python -m benchmarks.load", *sys.argv[1:]])
    print(report(args, results, command, load_before))
    if args.keep_db:
        print(f"# kept {SERVICE_DB}, {BARE_DB} and the logs in {workdir}", file=sys.stderr)
    return 0 if all(found == expected for _, expected, found in checks) else 1


def cleanup(keep_db: bool) -> None:
    while CHILDREN:
        process = CHILDREN.pop()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            stop_process(process)
    if not keep_db:
        for name in (SERVICE_DB, BARE_DB):
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(recreate_database(name, drop_only=True))
        for workdir in WORKDIRS:
            shutil.rmtree(workdir, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    # prog: how it is run (argv[0] would be the package's __main__.py)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=benchmarks.load.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    parser.add_argument("--operators", type=int, default=50, help="operator clients creating requests")
    parser.add_argument("--apps", type=int, default=100, help="provider apps, spread over the providers")
    parser.add_argument("--seed", type=int, default=2026, help="same seed, same choices")
    parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        help="mean seconds a caught-up provider app waits before pulling again (default 1)",
    )
    parser.add_argument(
        "--app-feed",
        choices=["poll", "stream"],
        default="poll",
        help="poll: apps pull the assignment listing with its cursor (default); stream: apps follow "
        "GET /provider/offers/stream and accept each offer as it is read",
    )
    parser.add_argument(
        "--stream-drop-s",
        type=float,
        default=20.0,
        help="stream apps drop their connection and resume about this often (default 20)",
    )
    parser.add_argument(
        "--replay-share",
        type=float,
        default=0.05,
        help="share of the mixed phase's creates retried with the same Idempotency-Key (default 0.05)",
    )
    parser.add_argument(
        "--scheduler",
        choices=["in-process", "separate"],
        default="in-process",
        help="in-process: `homecare serve` runs the jobs (default); separate: "
        "`serve --no-scheduler` plus a `homecare scheduler` process, as in production",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="`homecare serve` processes, clients spread over them in turn (default 1)",
    )
    parser.add_argument("--no-create-only", action="store_true", help="skip the create-only phase")
    parser.add_argument("--keep-quotas", action="store_true", help="keep the seeded monthly quotas")
    parser.add_argument("--keep-db", action="store_true", help="keep the databases and logs afterwards")
    parser.add_argument(
        "--trace-offers",
        action="store_true",
        help="diagnosis: a trigger records when each assignment row is really written, to "
        "compare with the offered_at/updated_at it carries (adds one insert per offer)",
    )
    parser.add_argument(
        "--service-log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="HOMECARE_LOG_LEVEL for the service (default: the service's own)",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600 or not 1 <= args.operators <= 1000 or not 0 <= args.apps <= 1000:
        parser.error("--seconds must be 1..3600, --operators 1..1000, --apps 0..1000")
    if not 1 <= args.api_processes <= 16:
        parser.error("--api-processes must be 1..16")
    if args.poll <= 0 or not 0 <= args.replay_share <= 1:
        parser.error("--poll must be > 0 and --replay-share 0..1")
    return args


def run(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.dsn)
        return 0

    def terminated(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`&`)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the servers run on uvloop too
    try:
        return asyncio.run(main(args))
    except KeyboardInterrupt:
        print("interrupted: stopping the servers and dropping the databases", file=sys.stderr)
        return 130
    finally:
        asyncio.set_event_loop_policy(None)
        cleanup(args.keep_db)
