"""What the compose file runs, run as plain processes on PostgreSQL (Docker is not on these machines):
three concurrent migrations of a fresh database, then the scheduler, its health check and an API replica,
with the commands and environment docker-compose.yml gives them (a stale heartbeat's check:
tests/service/test_bootstrap.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import BACKENDS, recreate_pg_database
from tests.test_compose import SERVICES

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="the production layout runs on PostgreSQL")
BIN = Path(sys.executable).parent
WAIT_S = 60.0  # bounded waits for processes starting on a busy machine


@pytest.fixture(scope="module")
def fresh_database():
    name = f"homecare_test_{os.getpid()}_entry"
    url = asyncio.run(recreate_pg_database(name))
    yield url
    asyncio.run(recreate_pg_database(name, drop_only=True))


def environment(service: str, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMECARE_")}
    env.update({k: str(v) for k, v in SERVICES[service]["environment"].items()})
    env.update(HOMECARE_DATABASE_URL=database_url, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=WAIT_S)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_S} s: {what}")


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=WAIT_S)


def test_three_concurrent_migrations_of_a_fresh_database_all_succeed(fresh_database):
    env = environment("migrate", fresh_database)
    processes = [
        subprocess.Popen(
            SERVICES["migrate"]["command"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(3)
    ]
    outcomes = [(p.wait(timeout=WAIT_S), p.stdout.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes

    async def versions() -> list[str]:
        connection = await asyncpg.connect(fresh_database.replace("+asyncpg", ""))
        try:
            return [row["version_num"] for row in await connection.fetch("SELECT version_num FROM alembic_version")]
        finally:
            await connection.close()

    from alembic.script import ScriptDirectory

    from service.migrate import alembic_config

    assert asyncio.run(versions()) == [ScriptDirectory.from_config(alembic_config(fresh_database)).get_current_head()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_scheduler_its_health_check_and_an_api_replica_run_as_compose_starts_them(fresh_database, tmp_path):
    beat = tmp_path / "var" / "scheduler.heartbeat"
    scheduler_env = environment(
        "scheduler", fresh_database, HOMECARE_HEARTBEAT_PATH=str(beat), HOMECARE_HEARTBEAT_S="0.2"
    )
    health = SERVICES["scheduler"]["healthcheck"]["test"][1:]  # after "CMD"
    port = free_port()
    api_command = [
        str(port) if arg == "8000" else "127.0.0.1" if arg == "0.0.0.0" else arg for arg in SERVICES["api"]["command"]
    ]
    scheduler = subprocess.Popen(
        SERVICES["scheduler"]["command"],
        env=scheduler_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = subprocess.Popen(
        api_command,
        env=environment("api", fresh_database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: beat.exists() and json.loads(beat.read_text())["state"] == "leader", "the scheduler leads")
        checked = run(health, scheduler_env)
        assert checked.returncode == 0 and checked.stdout.startswith("leader since"), checked

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "the API replica answers /readyz")
    finally:
        codes = (stop(scheduler), stop(api))
    # uvicorn ends by re-raising the SIGTERM it handled, after its graceful shutdown
    assert codes[0] == 0 and codes[1] in (0, -signal.SIGTERM), (scheduler.stderr.read(), api.stderr.read())
