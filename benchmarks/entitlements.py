"""The entitlement policy's share of the monthly plan: read and match every elder as the plan does.

    .venv/bin/python -m benchmarks.plan --keep          # a Haikou database of 300,000 elders, kept
    .venv/bin/python -m benchmarks.entitlements [--month 2027-01] [--repeat 2]

Reads the registry, the policies, categories and assessments in effect on the month's first day (one
query each, `create_planned_requests`'s own functions) and matches every elder in memory; prints the
time of each part. It writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlmodel import select

from benchmarks.pg import SERVER
from benchmarks.plan import NAME
from service.db import make_engine, make_sessionmaker, utcnow
from service.elders.models import Elder
from service.entitlements import matching
from service.entitlements.service import policy_book, recorded_facts
from service.months import first_day, month_of, next_month
from service.settings import Settings


async def main() -> None:
    parser = argparse.ArgumentParser(description="entitlement lookup benchmark (PostgreSQL)")
    parser.add_argument("--database", default=NAME, help="a database the plan benchmark kept")
    parser.add_argument("--month", default=next_month(month_of(utcnow(), Settings().tz)))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    engine = make_engine(f"{SERVER}/{args.database}".replace("postgresql://", "postgresql+asyncpg://"))
    sessions = make_sessionmaker(engine)
    day = first_day(args.month)
    try:
        for _ in range(args.repeat):
            async with sessions() as session:
                started = time.perf_counter()
                elders = (
                    await session.exec(
                        select(
                            Elder.id,
                            Elder.id_number,
                            Elder.area_code,
                            Elder.visits_per_month,
                            Elder.visits_override_reason,
                            Elder.living_alone,
                        ).where(Elder.status == "active")
                    )
                ).all()
                read = time.perf_counter()
                book = await policy_book(session, day)
                categories, assessments = await recorded_facts(session, day)
                looked_up = time.perf_counter()
                visits = changed = 0
                for elder_id, id_number, area, registered, reason, alone in elders:
                    facts = matching.facts_on(
                        day, id_number, alone, categories.get(elder_id, ()), assessments.get(elder_id, ())
                    )
                    decided = matching.entitlement(book, area, facts, registered, reason).visits_per_month
                    visits += decided
                    changed += decided != registered
                matched = time.perf_counter()
            print(
                f"{len(elders):,} elders read {read - started:.2f} s; policies, "
                f"{sum(map(len, categories.values())):,} categories and "
                f"{sum(map(len, assessments.values())):,} assessments read {looked_up - read:.2f} s; "
                f"matched {matched - looked_up:.2f} s; {visits:,} visits, {changed:,} elders changed"
            )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
