"""What a pooled connection costs to check out and return, with each way of not handing out dead ones.

    .venv/bin/python -m benchmarks.checkout [--rounds 5000] [--repeat 5]

On the local PostgreSQL, one task checks a connection out of an engine's pool and returns it, `--rounds`
times, running `SELECT 1` on it (the smallest real work), for three engines: no liveness check at all,
the check the service uses (service/db.py: a look at asyncpg's `is_closed()` in a checkout event, no
round trip), and SQLAlchemy's `pool_pre_ping` (a ping before every checkout). The engines take turns
within each repeat, so load from elsewhere on the machine falls on all three alike. Prints the medians of
`--repeat` runs, per checkout: wall-clock microseconds and this process's CPU microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.pg import SERVER
from service.db import make_engine

URL = f"{SERVER}/postgres".replace("postgresql://", "postgresql+asyncpg://")


def engines():
    return {
        "no check": create_async_engine(URL, pool_size=5, max_overflow=0),
        "is_closed() at checkout (service)": make_engine(URL),
        "pool_pre_ping": create_async_engine(URL, pool_size=5, max_overflow=0, pool_pre_ping=True),
    }


async def per_checkout_us(engine, rounds: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    return (time.perf_counter() - wall) / rounds * 1e6, (time.process_time() - cpu) / rounds * 1e6


async def main(rounds: int, repeat: int) -> None:
    contenders = engines()
    for engine in contenders.values():
        await per_checkout_us(engine, 100)  # connect and warm the statement cache
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, engine in contenders.items():
            runs[name].append(await per_checkout_us(engine, rounds))
    print(f"| checkout + SELECT 1 + return (median of {repeat} × {rounds:,}) | wall µs | CPU µs |")
    print("|---|---:|---:|")
    for name, measured in runs.items():
        print(
            f"| {name} | {statistics.median(w for w, _ in measured):.0f} "
            f"| {statistics.median(c for _, c in measured):.0f} |"
        )
    for engine in contenders.values():
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.repeat))
