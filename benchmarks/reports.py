"""Benchmark of the supervision reports at Haikou scale on PostgreSQL (issue 6).

    .venv/bin/python -m benchmarks.reports [--elders 300000] [--months 2] [--repeat 3] [--keep | --reuse]
        [--downloads 50 [--operators 10] [--seconds 15]]

Creates a dedicated database (homecare_bench_reports), migrates it, and bulk-loads Haikou's real
division tree with synthetic elders (2 visits a month each: 600,000 visits a month at 300,000
elders), 100 providers, planned and emergency requests, assignments, visits (about 90% verified,
7% exceptions, 1% still open, 2% missed), follow-ups and quotas, with asyncpg COPY. The month before
is loaded too, since every summary compares against it. Then it asks the API in-process (httpx over
ASGI, auth and serialisation included) for each report and prints the median and the fastest of
--repeat runs (the fastest shows the floor when other work shares the machine). The database is
dropped afterwards unless --keep; --reuse measures a kept one again without loading. With --downloads N,
operators' creates are timed alone and while N downloads run (benchmarks/reports_during_intake.py) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import numpy as np

from benchmarks.pg import SERVER, recreate_database
from service.months import month_bounds, next_month, previous_month
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NAME = "homecare_bench_reports"
MONTH = "2026-10"
CODES = [
    (),
    ("short_duration",),
    ("off_site",),
    ("outside_window",),
    ("short_duration", "off_site"),
    ("missing_check_out",),
]
NOW = datetime(2026, 11, 22, tzinfo=UTC)
COLUMNS = {  # what the loader writes; every other column takes its default or NULL
    "area": "code name level parent_code",
    "provider": "id name services monthly_quota contract_start contract_end status created_at updated_at",
    "provider_area": "provider_id area_code",
    "station": "id provider_id name lat lon",
    "elder": "id name id_number phone address lat lon area_code visits_per_month min_minutes services "
    "preferred_weekdays living_alone status created_at updated_at",
    "service_request": "id elder_id service urgency kind channel status month seq attempts created_by "
    "created_at updated_at",
    "assignment": "id request_id provider_id status offered_at caregiver updated_at",
    "visit": "id assignment_id provider_id elder_id client_visit_id caregiver check_in_at check_in_lat "
    "check_in_lon check_in_distance_m check_out_at check_out_lat check_out_lon check_out_distance_m "
    "tasks duration_minutes status exceptions created_at updated_at",
    "follow_up": "id visit_id satisfaction complaint created_by created_at",
    "quota_usage": "provider_id month used",
}


def haikou_areas() -> list[tuple]:
    places = json.loads((ROOT / "seed" / "places" / "haikou.json").read_text(encoding="utf-8"))
    areas = [(places["city"]["code"], places["city"]["name"], "city", None)]
    for county in places["counties"]:
        areas.append((county["code"], county["name"], "county", places["city"]["code"]))
        for street in county["streets"]:
            areas.append((street["code"], street["name"], "street", county["code"]))
            areas += [(c["code"], c["name"], "community", street["code"]) for c in street["communities"]]
    return areas


class Loader:
    """Synthetic rows, written with COPY; ids are assigned here so that rows can refer to each other."""

    def __init__(self, connection: asyncpg.Connection, elders: int, seed: int = 6) -> None:
        self.db, self.n, self.rng = connection, elders, np.random.default_rng(seed)
        self.request_id = self.assignment_id = self.visit_id = self.follow_up_id = 0

    async def copy(self, table: str, rows: list[tuple]) -> None:
        await self.db.copy_records_to_table(table, records=rows, columns=COLUMNS[table].split())

    async def registry(self) -> None:
        areas = haikou_areas()
        await self.copy("area", areas)
        self.communities = [a[0] for a in areas if a[2] == "community"]
        streets = [a[0] for a in areas if a[2] == "street"]
        providers = [
            (
                p,
                f"海口康养服务{p:03d}",
                '["clean","emergency","meal","companionship"]',
                20_000,
                date(2020, 1, 1),
                date(2030, 12, 31),
                "active",
                NOW,
                NOW,
            )
            for p in range(1, 101)
        ]
        await self.copy("provider", providers)
        # Three providers per street, spread over the hundred.
        self.street_providers = {
            street: [1 + (i * 7 + k * 31) % 100 for k in range(3)] for i, street in enumerate(streets)
        }
        await self.copy(
            "provider_area", sorted({(p, street) for street, ps in self.street_providers.items() for p in ps})
        )
        await self.copy("station", [(p, p, f"站{p}", 20.0, 110.3) for p in range(1, 101)])
        homes = self.rng.integers(0, len(self.communities), self.n)
        self.elder_area = [self.communities[i] for i in homes]
        await self.copy(
            "elder",
            [
                (
                    e + 1,
                    f"老人{e}",
                    f"{e:018d}",
                    f"139{e:08d}",
                    "海口",
                    20.0,
                    110.3,
                    self.elder_area[e],
                    2,
                    60,
                    '["clean"]',
                    "[]",
                    False,
                    "active",
                    NOW,
                    NOW,
                )
                for e in range(self.n)
            ],
        )

    def _provider_for(self, elder: int) -> int:
        options = self.street_providers[self.elder_area[elder][:9]]
        return options[elder % len(options)]

    async def month(self, month: str) -> None:
        start, end = month_bounds(month, Settings().tz)
        seconds = (end - start).total_seconds()
        requests, assignments, visits, follow_ups = [], [], [], []
        fate = self.rng.random(self.n * 2)
        offsets = self.rng.random(self.n * 2) * (seconds - 4 * 3600)
        minutes = self.rng.normal(68, 9, self.n * 2)
        for i in range(self.n * 2):
            elder, seq = i // 2, i % 2 + 1
            self.request_id += 1
            missed = fate[i] < 0.02
            requests.append(
                (
                    self.request_id,
                    elder + 1,
                    "clean",
                    "routine",
                    "planned",
                    "plan",
                    "missed" if missed else "completed",
                    month,
                    seq,
                    0,
                    "bench",
                    start,
                    start,
                )
            )
            if not missed:
                self._visit(
                    elder,
                    start + timedelta(seconds=float(offsets[i])),
                    float(minutes[i]),
                    fate[i],
                    start,
                    assignments,
                    visits,
                    follow_ups,
                )
        for k in range(self.n // 100):  # emergencies: about one a month per hundred elders
            elder = int(self.rng.integers(0, self.n))
            called = start + timedelta(seconds=float(self.rng.random() * (seconds - 7200)))
            self.request_id += 1
            requests.append(
                (
                    self.request_id,
                    elder + 1,
                    "emergency",
                    "emergency",
                    "ad_hoc",
                    "one_touch",
                    "completed",
                    month,
                    None,
                    0,
                    "bench",
                    called,
                    called,
                )
            )
            if k % 20:  # one in twenty never answered
                arrived = called + timedelta(minutes=float(self.rng.uniform(8, 70)))
                self._visit(elder, arrived, 62.0, 0.5, arrived, assignments, visits, follow_ups)
        await self.copy("service_request", requests)
        await self.copy("assignment", assignments)
        await self.copy("visit", visits)
        await self.copy("follow_up", follow_ups)
        await self.copy("quota_usage", [(p, month, 12_000) for p in range(1, 101)])

    def _visit(
        self,
        elder: int,
        check_in: datetime,
        minutes: float,
        fate: float,
        offered: datetime,
        assignments: list,
        visits: list,
        follow_ups: list,
    ) -> None:
        provider = self._provider_for(elder)
        self.assignment_id += 1
        self.visit_id += 1
        open_visit = 0.02 <= fate < 0.03
        codes = CODES[1 + self.visit_id % (len(CODES) - 2)] if 0.03 <= fate < 0.10 else ()
        status = "in_progress" if open_visit else "exception" if codes else "verified"
        if status == "verified":
            minutes = max(minutes, 61.0)
        elif "short_duration" in codes:
            minutes = min(minutes, 50.0)
        out = None if open_visit else check_in + timedelta(minutes=minutes)
        assignments.append(
            (
                self.assignment_id,
                self.request_id,
                provider,
                "accepted" if open_visit else "completed",
                offered,
                "护理员",
                out or check_in,
            )
        )
        far = 900.0 if "off_site" in codes else 20.0
        client_id = str(uuid.UUID(int=self.visit_id))
        visits.append(
            (
                self.visit_id,
                self.assignment_id,
                provider,
                elder + 1,
                client_id,
                "护理员",
                check_in,
                20.0,
                110.3,
                far,
                out,
                20.0 if out else None,
                110.3 if out else None,
                far if out else None,
                '["clean"]',
                None if open_visit else minutes,
                status,
                json.dumps(list(codes)),
                out or check_in,
                out or check_in,
            )
        )
        if out is not None and self.visit_id % 10 == 0:
            self.follow_up_id += 1
            complaint = "迟到" if self.visit_id % 50 == 0 else None
            follow_ups.append(
                (
                    self.follow_up_id,
                    self.visit_id,
                    3 + self.visit_id % 3,
                    complaint,
                    "operator:bench",
                    out + timedelta(days=1),
                )
            )


async def load(dsn: str, elders: int, months: int) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        loader = Loader(connection, elders)
        await loader.registry()
        month = MONTH
        for _ in range(months - 1):
            month = previous_month(month)
        for _ in range(months):
            await loader.month(month)
            month = next_month(month)
        await connection.execute("VACUUM ANALYZE")  # the steady state: statistics and visibility maps
        print(
            f"loaded {elders:,} elders, {loader.visit_id:,} visits, {loader.request_id:,} requests "
            f"in {time.perf_counter() - started:.0f} s"
        )
    finally:
        await connection.close()
    return time.perf_counter() - started


async def measure(url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    from service.app import create_app
    from service.tokens.service import create_token

    app = create_app(Settings(database_url=url, scheduler_enabled=False, log_level="WARNING"))
    async with app.state.sessions() as session:
        admin = {"Authorization": f"Bearer {await create_token(session, role='admin', name='bench')}"}
        await session.commit()
    async with app.state.sessions() as session:
        token = await create_token(session, role="regulator", name="bench-460106", area_code="460106")
        await session.commit()
        regulator = {"Authorization": f"Bearer {token}"}
    cases = [
        ("monthly json, whole city", "monthly", {}, admin),
        ("monthly json, 龙华区 (a regulator's district)", "monthly", {}, regulator),
        ("monthly xlsx, whole city", "monthly", {"format": "xlsx"}, admin),
        ("monthly pdf, whole city", "monthly", {"format": "pdf"}, admin),
        ("monthly csv, whole city", "monthly", {"format": "csv"}, admin),
        ("exceptions json, whole city", "exceptions", {}, admin),
        ("settlement xlsx, whole city", "settlement", {"format": "xlsx"}, admin),
    ]
    results = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as c:
        for label, path, params, headers in cases:
            times, size = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                response = await c.get(f"/api/v1/reports/{path}", params={"month": MONTH, **params}, headers=headers)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text[:500]
                size = len(response.content)
            results.append((label, statistics.median(times), min(times), size))
    await app.state.reports.close()
    await app.state.engine.dispose()
    return results


async def _elders(dsn: str) -> int:
    """How many elders were loaded; and the id sequences moved past the ids the loader wrote itself, so
    that rows created through the API (operators' requests) take fresh ones."""
    connection = await asyncpg.connect(dsn)
    try:
        for table in ("provider", "station", "elder", "service_request", "assignment", "visit", "follow_up"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        return await connection.fetchval("SELECT count(*) FROM elder")
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description="supervision reports benchmark (PostgreSQL)")
    parser.add_argument("--elders", type=int, default=300_000, help="2 planned visits a month each")
    parser.add_argument("--months", type=int, default=2, help="months of history loaded, ending with 2026-10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure what a --keep run left (no load)")
    parser.add_argument(
        "--downloads",
        type=int,
        default=0,
        help="time operators' creates alone and while this many downloads run, instead",
    )
    parser.add_argument("--operators", type=int, default=10, help="with --downloads: operators creating")
    parser.add_argument("--seconds", type=float, default=15.0, help="with --downloads: each phase at least")
    args = parser.parse_args()
    from service.migrate import migrate

    dsn = f"{SERVER}/{NAME}" if args.reuse else await recreate_database(NAME)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    try:
        if not args.reuse:
            await asyncio.to_thread(migrate, url)
            await load(dsn, args.elders, args.months)
        if args.downloads:
            from benchmarks.reports_during_intake import run

            elders = await _elders(dsn)
            await run(url, elders, MONTH, args.downloads, args.operators, args.seconds)
            return
        rows = await measure(url, args.repeat)
        print(f"\n| report ({MONTH}) | median of {args.repeat} (s) | fastest (s) | size |")
        print("|---|---:|---:|---:|")
        for label, median, fastest, size in rows:
            print(f"| {label} | {median:.2f} | {fastest:.2f} | {size / 1024:,.0f} KiB |")
    finally:
        if not (args.keep or args.reuse):
            await recreate_database(NAME, drop_only=True)


if __name__ == "__main__":
    asyncio.run(main())
