"""The servers under load and their databases: the bare endpoint, the processes, CPU accounting."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import numpy as np
from fastapi import Body, FastAPI

from benchmarks.load.common import (
    BARE_DB,
    CHILDREN,
    HOST,
    OPERATOR_NAME,
    OTHERS,
    PG,
    ROOT,
    SERVICE_DB,
    SERVICE_URL,
)

# --------------------------------------------------------------------------- the bare endpoint


def bare_app(dsn: str):
    """The anchor: one POST that stores its JSON body with one INSERT ... RETURNING id, nothing else."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=30)  # the service's 10 + 20
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/bare", status_code=201)
    async def insert(body: Annotated[dict[str, Any], Body()]) -> dict[str, int]:
        row_id = await app.state.pool.fetchval(
            "INSERT INTO bare_insert (body) VALUES ($1) RETURNING id", json.dumps(body)
        )
        return {"id": row_id}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(port: int, dsn: str) -> None:
    import uvicorn

    uvicorn.run(bare_app(dsn), host=HOST, port=port, log_level="warning")  # as `homecare serve` runs


# --------------------------------------------------------------------------- processes and databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


try:  # loaded here, not in the forked child, where only the call itself runs
    _PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except OSError:
    _PRCTL = None


def _die_with_parent() -> None:
    if _PRCTL is not None:  # Linux: a server must not outlive a benchmark that was killed outright
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_process(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        # Own session: the terminal's Ctrl-C reaches only the benchmark, which then stops its servers.
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # noqa: PLW1509
    CHILDREN.append(process)
    return process


def _exited(process: subprocess.Popen, log_path: Path) -> RuntimeError:
    return RuntimeError(f"{process.args} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")


async def wait_ready(process: subprocess.Popen, url: str, log_path: Path, timeout: float = 90.0) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if process.poll() is not None:
                raise _exited(process, log_path)
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")


async def wait_for_leader(process: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    """`homecare scheduler` leads once it holds its advisory lock (it logs nothing when it starts)."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if process.poll() is not None:
                raise _exited(process, log_path)
            if await connection.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
                SERVICE_DB,
            ):
                await asyncio.sleep(1.0)  # it LISTENs right after taking the lock
                return
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    raise RuntimeError(f"{process.args} did not become the leader in {timeout:.0f} s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process in CHILDREN:
        CHILDREN.remove(process)


async def prepare_service_database(keep_quotas: bool, url: str = SERVICE_URL):
    """Migrate, seed Guandu, make tokens; (operator token, [(provider id, token)], [(elder id, services)])."""
    from sqlalchemy import text

    from seed.load import load_world
    from seed.world import generate_world
    from service.db import make_engine, make_sessionmaker
    from service.migrate import migrate
    from service.tokens.service import create_token

    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        await load_world(sessions, generate_world("guandu"))
        async with sessions() as session:
            if not keep_quotas:
                await session.exec(text("UPDATE provider SET monthly_quota = 1000000"))
                await session.commit()
            providers = (await session.exec(text("SELECT id FROM provider WHERE status = 'active' ORDER BY id"))).all()
            elders = (
                await session.exec(text("SELECT id, services FROM elder WHERE status = 'active' ORDER BY id"))
            ).all()
            operator_token = await create_token(session, role="operator", name=OPERATOR_NAME, actor="benchmark")
            tokens = [
                (
                    pid,
                    await create_token(
                        session, role="provider", name=f"bench-provider-{pid}", provider_id=pid, actor="benchmark"
                    ),
                )
                for (pid,) in providers
            ]
            await session.commit()
    finally:
        await engine.dispose()
    return operator_token, tokens, [(e.id, list(e.services)) for e in elders]


async def prepare_bare_database() -> None:
    connection = await asyncpg.connect(f"{PG}/{BARE_DB}")
    try:
        await connection.execute(
            "CREATE TABLE bare_insert (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
    finally:
        await connection.close()


async def install_offer_trace() -> None:
    """A diagnostic trigger: the wall time each offer row is inserted, beside the time it is stamped with."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        await connection.execute("""
            CREATE TABLE bench_offer_trace (assignment_id int PRIMARY KEY, stamped timestamptz NOT NULL,
                                            written timestamptz NOT NULL);
            CREATE FUNCTION bench_trace_offer() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO bench_offer_trace VALUES (NEW.id, NEW.offered_at, clock_timestamp());
                RETURN NEW;
            END $$;
            CREATE TRIGGER bench_trace_offer AFTER INSERT ON assignment
                FOR EACH ROW EXECUTE FUNCTION bench_trace_offer();""")
    finally:
        await connection.close()


async def offer_trace(missed: set[int]) -> str:
    """How far behind the real write time the stamped offered_at was: all offers, and the ones never shown."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        rows = await connection.fetch(
            "SELECT assignment_id, extract(epoch FROM written - stamped)::float8 AS lag FROM bench_offer_trace"
        )
    finally:
        await connection.close()
    lags = np.array([r["lag"] for r in rows])
    gone = np.array([r["lag"] for r in rows if r["assignment_id"] in missed])
    if not len(lags):
        return "no offers"
    text = (
        f"written this long after the offered_at/updated_at they carry: p50 {np.median(lags):.1f} s, "
        f"max {lags.max():.1f} s, {int((lags > 10).sum())} of {len(lags)} more than the feed's 10 s lag"
    )
    if len(gone):
        text += f"; the offers never shown: {len(gone)}, lag min {gone.min():.1f} s, max {gone.max():.1f} s"
    return text


# --------------------------------------------------------------------------- CPU accounting

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


async def _backend_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving this benchmark's databases (not other sessions')."""
    connection = await asyncpg.connect(f"{PG}/postgres")
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
            [SERVICE_DB, BARE_DB],
        )
    finally:
        await connection.close()
    return {row["pid"]: _proc_cpu(row["pid"]) for row in rows}


def _machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4] - values[7]) / TICK  # less idle, iowait and steal


async def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, Any]:
    own = os.times()
    return {
        **{name: _proc_cpu(pid) for name, pid in pids.items() if pid},
        "load generator": own.user + own.system,
        "postgres (this benchmark's backends)": await _backend_cpu(),
        "machine (all processes)": _machine_busy(),
        "wall": time.monotonic(),
    }


def cpu_share(before: dict, after: dict) -> dict[str, float]:
    """Cores busy between two snapshots; a backend that exited in between is not counted (pools persist)."""
    seconds = after.pop("wall") - before.pop("wall")
    shares = {}
    for key, value in after.items():
        if isinstance(value, dict):
            shares[key] = sum(cpu - before[key].get(pid, 0.0) for pid, cpu in value.items()) / seconds
        else:
            shares[key] = (value - before[key]) / seconds
    ours = sum(v for k, v in shares.items() if not k.startswith("machine"))
    shares[OTHERS] = max(0.0, shares["machine (all processes)"] - ours)
    return shares
