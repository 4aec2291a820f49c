"""Benchmark of the operator's seat at Haikou scale: caller search and the dispatch board (issue 14).

    .venv/bin/python -m benchmarks.console [--elders 300000] [--searches 200] [--requests 300] [--sqlite]

Creates a dedicated PostgreSQL database (homecare_bench_console; with --sqlite a file under var/), migrates it,
loads Haikou with --elders synthetic elders (`seed.load`, as `homecare seed haikou`), logs an operator in to the
console, registers --requests of today's requests through the console's own form, then asks the app in-process
(httpx over ASGI: session check, query and rendering included) for the search fragment, as the seat does while
the operator types, with a phone number, a two-character name fragment and the last six characters of an ID
number of random elders, and for the board. Prints p50/p95/max per kind, in milliseconds. The database is
dropped afterwards. Target: search p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
from pathlib import Path

import httpx
from sqlmodel import select

from benchmarks.pg import recreate_database
from seed.load import load_world
from seed.world import generate_world
from service.app import create_app
from service.elders.models import Elder
from service.migrate import migrate
from service.settings import Settings
from service.users.service import create_user

NAME = "homecare_bench_console"
ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def timed(client: httpx.AsyncClient, path: str, params: dict | None = None) -> float:
    start = time.perf_counter()
    response = await client.get(path, params=params)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


async def run(args) -> None:
    if args.sqlite:
        path = ROOT / "var" / "bench_console.db"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = (await recreate_database(NAME)).replace("postgresql://", "postgresql+asyncpg://")
    try:
        await asyncio.to_thread(migrate, url)
        settings = Settings(database_url=url, scheduler_enabled=False, log_level="WARNING")
        app = create_app(settings)
        started = time.perf_counter()
        report = await load_world(app.state.sessions, generate_world("haikou", args.elders, 2026))
        print(f"loaded {report.elders} elders in {time.perf_counter() - started:.0f} s")
        async with app.state.sessions() as session:
            await create_user(session, username="bench", password="bench-pass-1", role="operator", actor="bench")
            await session.commit()  # the users' service flushes; its callers commit
            elders = (await session.exec(select(Elder.id, Elder.name, Elder.phone, Elder.id_number))).all()
        rng = random.Random(2026)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            page = await client.get("/login")
            await client.post(
                "/login",
                data={"username": "bench", "password": "bench-pass-1", "csrf": CSRF.search(page.text).group(1)},
            )
            token = CSRF.search((await client.get("/console/seat")).text).group(1)
            for elder in rng.sample(elders, args.requests):
                urgency = "emergency" if rng.random() < 0.1 else "routine"
                made = await client.post(
                    f"/console/elders/{elder.id}/requests",
                    data={
                        "csrf": token,
                        "service": "emergency" if urgency == "emergency" else "clean",
                        "urgency": urgency,
                    },
                )
                assert made.status_code == 303, made.text
            kinds = {
                "phone": lambda e: e.phone,
                "name fragment": lambda e: e.name[:2],
                "ID number tail": lambda e: e.id_number[-6:],
            }
            for kind, query in kinds.items():
                sample = rng.sample(elders, args.searches)
                await timed(client, "/console/seat/search", {"q": query(sample[0])})  # warm-up
                times = [await timed(client, "/console/seat/search", {"q": query(e)}) for e in sample]
                print(
                    f"search by {kind:<15} p50 {statistics.median(times):6.1f}  p95 {percentile(times, 0.95):6.1f}"
                    f"  max {max(times):6.1f} ms  ({len(times)} searches)"
                )
            await timed(client, "/console/board")
            times = [await timed(client, "/console/board") for _ in range(args.searches // 4)]
            print(
                f"board ({args.requests} requests today)   p50 {statistics.median(times):6.1f}  "
                f"p95 {percentile(times, 0.95):6.1f}  max {max(times):6.1f} ms  ({len(times)} loads)"
            )
        await app.state.engine.dispose()
    finally:
        if not args.sqlite:
            await recreate_database(NAME, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=300_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--sqlite", action="store_true", help="on a SQLite file instead of PostgreSQL")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
