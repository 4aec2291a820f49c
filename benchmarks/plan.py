"""Benchmark of the monthly plan at city scale on PostgreSQL (issue 10).

    .venv/bin/python -m benchmarks.plan [--scenario haikou] [--elders 300000] [--keep | --reuse]

Creates a dedicated database (homecare_bench_plan), migrates it and loads the district with the seed
loader (`homecare seed haikou --elders N`: real streets and care centres, generated elders), then runs
the month's plan as the scheduler does on the 1st (`run_plan`, the current month, Asia/Shanghai) and
prints its phases: planned requests written and the registry read, the optimal batch and its visit days
(solve), offers written; then a second run, which finds nothing new. `--keep` keeps the database,
`--reuse` plans again on a kept one (the month's requests, offers and quota usage removed first).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from sqlalchemy import delete, func
from sqlmodel import select

from benchmarks.pg import SERVER, recreate_database
from seed.load import load_world
from seed.world import generate_world
from service.audit.models import AuditEvent
from service.db import make_engine, make_sessionmaker, utcnow
from service.dispatching.models import DispatchPlan
from service.dispatching.plans import run_plan
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.months import month_of
from service.settings import Settings

NAME = "homecare_bench_plan"


async def forget_plan(sessions, month: str) -> None:
    """What a plan of `month` wrote, so that it can run again from scratch on a kept database."""
    async with sessions() as session:
        requests = select(ServiceRequest.id).where(ServiceRequest.month == month)
        await session.exec(delete(Assignment).where(Assignment.request_id.in_(requests)))
        await session.exec(delete(ServiceRequest).where(ServiceRequest.month == month))
        await session.exec(delete(QuotaUsage).where(QuotaUsage.month == month))
        await session.exec(delete(DispatchPlan).where(DispatchPlan.month == month))
        await session.exec(delete(AuditEvent).where(AuditEvent.action != "seed.load"))
        await session.commit()


async def main() -> None:
    parser = argparse.ArgumentParser(description="monthly plan benchmark (PostgreSQL)")
    parser.add_argument("--scenario", default="haikou", choices=("haikou", "guandu"))
    parser.add_argument("--elders", type=int, default=300_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="plan again on what a --keep run left")
    args = parser.parse_args()
    from service.migrate import migrate

    dsn = f"{SERVER}/{NAME}" if args.reuse else await recreate_database(NAME)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    settings = Settings(database_url=url, scheduler_enabled=False)
    month = month_of(utcnow(), settings.tz)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        if args.reuse:
            await forget_plan(sessions, month)
        else:
            await asyncio.to_thread(migrate, url)
            started = time.perf_counter()
            world = generate_world(args.scenario, elders=args.elders)
            loaded = await load_world(sessions, world)
            print(f"seeded {loaded.elders:,} elders in {time.perf_counter() - started:.1f} s")
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            plan = await run_plan(sessions, settings, month, actor="benchmark")
            runs.append(time.perf_counter() - started)
            assert plan is not None and plan.state == "done", plan and plan.error
        async with sessions() as session:
            offers = (await session.exec(select(func.count()).select_from(Assignment))).one()
        first = plan.summary
        print(f"\n| plan {month}, {args.scenario}, {first['elders_planned']:,} elders | seconds |")
        print("|---|---:|")
        print(
            f"| planned requests written ({first['planned_requests']:,}) and the registry read | "
            f"{first['read_seconds']:.1f} |"
        )
        print(f"| optimal batch and visit days (solve) | {first['solve_seconds']:.1f} |")
        print(
            f"| offers written ({first['visits_offered']:,}; {len(first['unassigned']):,} elders unassignable) "
            f"| {first['write_seconds']:.1f} |"
        )
        print(f"| **whole plan** | **{runs[0]:.1f}** |")
        print(f"| second run (nothing new) | {runs[1]:.1f} |")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{offers:,} offers in the database; peak RSS of this process {peak:,.0f} MB")
    finally:
        await engine.dispose()
        if not (args.keep or args.reuse):
            await recreate_database(NAME, drop_only=True)


if __name__ == "__main__":
    asyncio.run(main())
