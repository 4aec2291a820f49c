"""Benchmark of the proactive-care list (主动关爱, issue 13) at Haikou scale on PostgreSQL.

    .venv/bin/python -m benchmarks.proactive [--elders 300000] [--repeat 3] [--keep | --reuse]

Loads the supervision reports' synthetic city (benchmarks/reports.py: Haikou's division tree, elders with
two visits a month in 2026-09 and 2026-10, follow-ups), then gives the elders real-looking ID numbers (born
1941-1966, so about a quarter are 80+ on the list's day), one in six living alone, and one one-touch phone
to one elder in 37 (8,100 at 300,000 elders; one in twenty of them silent). Then it asks the API in-process
(httpx over ASGI, auth and serialisation included) for the list of 2026-10-31 — the last day of the loaded
visits, so contact within the 7 days is what the month left — and prints the median and the fastest of
--repeat runs: the first page for the whole city and for one district, and the walk through every page of
the district (500 a page).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
import httpx

from benchmarks.pg import SERVER, recreate_database
from benchmarks.reports import load
from service.settings import Settings

NAME = "homecare_bench_proactive"
DAY = "2026-10-31"
AS_OF = "2026-10-31 16:00:00+00"  # the end of that day in Asia/Shanghai
DISTRICT = "460106"
BORN_FROM, BIRTH_DAYS = "1941-01-01", 9131  # 25 years of birth dates


async def shape(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"""
            UPDATE elder SET
              id_number = substr(area_code, 1, 6) || to_char(date '{BORN_FROM}' + (id % {BIRTH_DAYS}), 'YYYYMMDD')
                          || lpad((id / {BIRTH_DAYS})::text, 3, '0') || '0',
              living_alone = (id % 6 = 0)""")
        await connection.execute(f"""
            INSERT INTO device (device_id, elder_id, kind, status, last_seen_at, created_by, created_at, updated_at)
            SELECT 'OT-' || id, id, 'one_touch', 'active',
                   timestamptz '{AS_OF}' - CASE WHEN id % 20 = 1 THEN interval '30 hours' ELSE interval '1 hour' END,
                   'bench', timestamptz '{AS_OF}' - interval '90 days', timestamptz '{AS_OF}'
            FROM elder WHERE id % 37 = 1""")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def measure(url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    from service.app import create_app
    from service.tokens.service import create_token

    app = create_app(Settings(database_url=url, scheduler_enabled=False, log_level="WARNING"))
    async with app.state.sessions() as session:
        operator = {"Authorization": f"Bearer {await create_token(session, role='operator', name='bench')}"}
    results = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:

        async def pages(params: dict, walk: bool) -> int:
            count, cursor = 0, None
            while True:
                response = await client.get(
                    "/api/v1/proactive-care",
                    headers=operator,
                    params={"date": DAY, **params, **({"cursor": cursor} if cursor else {})},
                )
                assert response.status_code == 200, response.text[:500]
                body = response.json()
                count += len(body["items"])
                cursor = body["next_cursor"]
                if not walk or cursor is None:
                    return count

        for label, params, walk in (
            ("first page (50), whole city", {}, False),
            (f"first page (500), district {DISTRICT}", {"area": DISTRICT, "limit": 500}, False),
            (f"every page (500 each), district {DISTRICT}", {"area": DISTRICT, "limit": 500}, True),
        ):
            times, items = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                items = await pages(params, walk)
                times.append(time.perf_counter() - started)
            results.append((label, statistics.median(times), min(times), items))
    await app.state.reports.close()
    await app.state.engine.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description="proactive-care list benchmark (PostgreSQL)")
    parser.add_argument("--elders", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure what a --keep run left (no load)")
    args = parser.parse_args()
    from service.migrate import migrate

    dsn = f"{SERVER}/{NAME}" if args.reuse else await recreate_database(NAME)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    try:
        if not args.reuse:
            await asyncio.to_thread(migrate, url)
            await load(dsn, args.elders, 2)
            await shape(dsn)
        rows = await measure(url, args.repeat)
        print(f"\n| proactive-care list of {DAY} | median of {args.repeat} (s) | fastest (s) | elders listed |")
        print("|---|---:|---:|---:|")
        for label, median, fastest, items in rows:
            print(f"| {label} | {median:.3f} | {fastest:.3f} | {items:,} |")
    finally:
        if not (args.keep or args.reuse):
            await recreate_database(NAME, drop_only=True)


if __name__ == "__main__":
    asyncio.run(main())
