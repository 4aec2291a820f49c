"""Operators' creates while regulators download reports (issue 10, item 4), on the reports benchmark's data.

    .venv/bin/python -m benchmarks.reports --reuse --downloads 50 [--operators 10] [--seconds 15]

One `homecare serve --no-scheduler` process (a real server, as in production) over the benchmark's database.
First the operators alone, each creating one request after the other for --seconds (alone); then the same
operators while --downloads report downloads of mixed formats are started at once (during): a download
answered 503 tries again after its Retry-After, as a client would, until every download has its report,
and the operators go on until then (at least --seconds). Creates' latency per phase, and what the
downloads got.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.load.servers import free_port, start_process, stop_process, wait_ready

HOST = "127.0.0.1"
MIX = [
    ("monthly", "json"),
    ("monthly", "xlsx"),
    ("monthly", "pdf"),
    ("monthly", "csv"),
    ("exceptions", "json"),
    ("settlement", "xlsx"),
]


async def _tokens(url: str) -> tuple[str, str]:
    from service.db import make_engine, make_sessionmaker
    from service.tokens.service import create_token

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            operator = await create_token(session, role="operator", name="bench-intake", actor="benchmark")
            admin = await create_token(session, role="admin", name="bench-downloads", actor="benchmark")
            await session.commit()
    finally:
        await engine.dispose()
    return operator, admin


async def _operator(client: httpx.AsyncClient, token: str, elders: int, seed: int, until, out: list) -> None:
    rng = np.random.default_rng(seed)
    headers = {"Authorization": f"Bearer {token}"}
    while not until():
        body = {"elder_id": int(rng.integers(1, elders + 1)), "service": "clean"}
        started = time.perf_counter()
        try:
            status = (await client.post("/api/v1/requests", json=body, headers=headers)).status_code
        except httpx.TransportError:  # counted, not retried: a create that did not get its answer
            status = 0
        out.append((time.perf_counter() - started, status))


async def _download(client: httpx.AsyncClient, token: str, month: str, i: int, out: list) -> None:
    path, fmt = MIX[i % len(MIX)]
    headers = {"Authorization": f"Bearer {token}"}
    started, busy = time.perf_counter(), 0
    while True:
        response = await client.get(f"/api/v1/reports/{path}", params={"month": month, "format": fmt}, headers=headers)
        if response.status_code != 503:
            break
        busy += 1
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    out.append((time.perf_counter() - started, response.status_code, busy))


async def _phase(
    base: str, operator: str, admin: str, elders: int, operators: int, seconds: float, downloads: int, month: str
) -> tuple[list, list, float]:
    creates: list = []
    fetched: list = []
    # Idle connections dropped before the server's 5 s keep-alive ends them, so no request races the close.
    limits = httpx.Limits(max_connections=operators + downloads + 10, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits, trust_env=False) as client:
        started = time.perf_counter()
        getting = [asyncio.create_task(_download(client, admin, month, i, fetched)) for i in range(downloads)]

        def until() -> bool:
            return time.perf_counter() - started >= seconds and all(t.done() for t in getting)

        await asyncio.gather(
            *(_operator(client, operator, elders, k, until, creates) for k in range(operators)), *getting
        )
    return creates, fetched, time.perf_counter() - started


def _row(phase: str, creates: list, wall: float) -> str:
    times = np.array([t for t, _ in creates]) * 1000
    codes = [c for _, c in creates]
    refused = sum(1 for c in codes if c != 201)
    return (
        f"| {phase} | {len(creates):,} | {len(creates) / wall:.1f} | {np.percentile(times, 50):.0f} | "
        f"{np.percentile(times, 99):.0f} | {refused} |"
    )


async def run(url: str, elders: int, month: str, downloads: int, operators: int, seconds: float) -> None:
    operator, admin = await _tokens(url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    port = free_port()
    env = {
        **os.environ,
        "HOMECARE_DATABASE_URL": url,
        "HOMECARE_SCHEDULER_ENABLED": "false",
        "HOMECARE_LOG_LEVEL": "WARNING",
    }
    homecare = str(Path(sys.executable).parent / "homecare")
    server = start_process(
        [homecare, "serve", "--host", HOST, "--port", str(port), "--no-scheduler"], env, workdir / "service.log"
    )
    try:
        base = f"http://{HOST}:{port}"
        await wait_ready(server, f"{base}/readyz", workdir / "service.log")
        alone, _, alone_wall = await _phase(base, operator, admin, elders, operators, seconds, 0, month)
        during, fetched, during_wall = await _phase(base, operator, admin, elders, operators, seconds, downloads, month)
    finally:
        stop_process(server)
    print(
        f"\n{operators} operators creating requests, alone and while {downloads} report downloads run "
        f"(HOMECARE_REPORT_CONCURRENCY={os.environ.get('HOMECARE_REPORT_CONCURRENCY', '4, the default')}):\n"
    )
    print("| phase | creates | per s | p50 ms | p99 ms | not 201 |")
    print("|---|---:|---:|---:|---:|---:|")
    print(_row("alone", alone, alone_wall))
    print(_row(f"during {downloads} downloads", during, during_wall))
    times = [t for t, _, _ in fetched]
    codes = sorted({c for _, c, _ in fetched})
    print(
        f"\ndownloads: statuses {codes}, {sum(b for _, _, b in fetched)} answers 503 (retried after "
        f"Retry-After), median {statistics.median(times):.1f} s, last {max(times):.1f} s, phase {during_wall:.1f} s"
    )
