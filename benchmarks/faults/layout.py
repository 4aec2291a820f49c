"""The production layout under test, and what watches it from outside.

API replicas (`homecare serve --no-scheduler`, two as in docker-compose.yml) behind what a load balancer
does — a connection refused by one replica goes to the next — and two `homecare scheduler` processes (one
leads by a PostgreSQL advisory lock, the other waits as a hot standby), as in docker-compose.yml, all on the
private cluster. Each scheduler writes a heartbeat file of its own (HOMECARE_HEARTBEAT_PATH), which says
whether it leads, waits or reconnects: that is how the benchmark knows who leads. The benchmark plays
Docker only where a fault calls for it (a killed process is started again); anything else a process needs
after a fault — a scheduler that exited by itself — is done by the benchmark only after the fault's
window, and reported as a human's intervention.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from benchmarks.load.common import CHILDREN, HOST
from benchmarks.load.servers import free_port, start_process, wait_ready
from service.leader import LOCK_KEY

# What a connection may raise while the database restarts under it (asyncpg's protocol can also be left
# mid-operation: InternalClientError); the observers then reconnect.
DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

# pg_advisory_lock(bigint) shows in pg_locks as classid = high 32 bits, objid = low 32 bits, objsubid 1
LEADER_LOCK = (
    "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    f"AND l.classid::bigint = {LOCK_KEY >> 32} AND l.objid::bigint = {LOCK_KEY & 0xFFFFFFFF} "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class Balancer(httpx.AsyncBaseTransport):
    """A load balancer without health checks, in the client: each request goes to the client's own replica
    first and, only if that refuses the connection, to the next (a request that reached a replica is never
    sent twice by it: the client's retry with its Idempotency-Key does that)."""

    def __init__(self, ports: list[int], first: int, connections: int = 2) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.order = [ports[(first + k) % len(ports)] for k in range(len(ports))]
        self.transports = {port: httpx.AsyncHTTPTransport(limits=limits) for port in ports}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for port in self.order[:-1]:
            request.url = request.url.copy_with(port=port)
            try:
                return await self.transports[port].handle_async_request(request)
            except httpx.ConnectError:
                continue
        request.url = request.url.copy_with(port=self.order[-1])
        return await self.transports[self.order[-1]].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()


class Layout:
    def __init__(self, workdir: Path, database_url: str, replicas: int) -> None:
        self.workdir = workdir
        self.env = {**os.environ, "HOMECARE_DATABASE_URL": database_url}
        self.homecare = str(Path(sys.executable).parent / "homecare")
        self.ports = [free_port() for _ in range(replicas)]
        self.base_urls = [f"http://{HOST}:{port}" for port in self.ports]
        self.apis: list[subprocess.Popen | None] = [None] * replicas
        self.schedulers: list[tuple[subprocess.Popen, Path]] = []  # (process, its log)
        self.heartbeats: dict[int, Path] = {}  # a scheduler's heartbeat file, by pid
        self.logs: list[Path] = []
        self.exits: list[str] = []  # processes that ended by themselves, with their exit codes

    def _start(self, name: str, command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / f"{name}-{sum(p.name.startswith(name) for p in self.logs) + 1}.log"
        self.logs.append(log)
        return start_process(command, env or self.env, log), log

    def start_api(self, replica: int) -> subprocess.Popen:
        self.apis[replica], _ = self._start(
            f"api{replica}",
            [self.homecare, "serve", "--no-scheduler", "--host", HOST, "--port", str(self.ports[replica])],
        )
        return self.apis[replica]

    async def api_ready(self, replica: int) -> None:
        await wait_ready(self.apis[replica], f"{self.base_urls[replica]}/readyz", self.logs[-1])

    def client(self, token: str, first: int) -> httpx.AsyncClient:
        """A client whose requests go to replica `first` unless it refuses them."""
        return httpx.AsyncClient(
            base_url=self.base_urls[0],
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
            trust_env=False,
            transport=Balancer(self.ports, first),
        )

    def start_scheduler(self) -> subprocess.Popen:
        heartbeat = self.workdir / f"scheduler-{len(self.schedulers) + 1}.heartbeat"
        env = {**self.env, "HOMECARE_HEARTBEAT_PATH": str(heartbeat), "HOMECARE_HEARTBEAT_S": "5"}  # as compose
        process, log = self._start("scheduler", [self.homecare, "scheduler"], env)
        self.schedulers.append((process, log))
        self.heartbeats[process.pid] = heartbeat
        return process

    def state(self, process: subprocess.Popen) -> str | None:
        """A live scheduler's state from its heartbeat (leader, standby, (re)connecting); None: dead or
        not written yet. It is written at once on every change, so it is never an interval behind."""
        if process.poll() is not None:
            return None
        try:
            return json.loads(self.heartbeats[process.pid].read_text(encoding="utf-8"))["state"]
        except (OSError, ValueError, KeyError):
            return None

    def leader(self) -> subprocess.Popen | None:
        return next((p for p, _ in self.schedulers if self.state(p) == "leader"), None)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """kill -9, as the OOM killer or a lost machine would."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        if process in CHILDREN:
            CHILDREN.remove(process)

    def alive_schedulers(self) -> list[subprocess.Popen]:
        return [p for p, _ in self.schedulers if p.poll() is None]

    def note_exits(self) -> None:
        """Remember the processes that exited since the last look (the ones the benchmark killed are gone)."""
        for process in [*self.apis, *(p for p, _ in self.schedulers)]:
            if process is not None and process in CHILDREN and process.poll() is not None:
                name = "API" if process in self.apis else "scheduler"
                self.exits.append(f"{name} pid {process.pid} exited by itself with code {process.returncode}")
                CHILDREN.remove(process)


async def wait_for_state(layout: Layout, process: subprocess.Popen, state: str, timeout: float = 60.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if layout.state(process) == state:
            return
        if process.poll() is not None:
            log = next(log for p, log in layout.schedulers if p is process)
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.args}: its heartbeat did not say {state!r} within {timeout:.0f} s")


async def first_ready(base_url: str, until: float) -> float | None:
    """Wall time of the first 200 from a replica's /readyz (polled every 0.1 s) before `until` (monotonic)."""
    # a slow answer is a late one (the machine is shared): no short timeout that would add a retry's delay
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0, trust_env=False) as client:
        while time.monotonic() < until:
            with contextlib.suppress(httpx.HTTPError, OSError):
                if (await client.get("/readyz")).status_code == 200:
                    return time.time()
            await asyncio.sleep(0.1)
    return None


@dataclass
class Sample:
    at: float  # time.time()
    open: int | None  # open requests; None: the database did not answer
    leader: int | None  # backend pid holding the leader lock


@dataclass
class Sampler:
    """The database seen from outside four times a second: the dispatcher's backlog and who leads."""

    dsn: str
    samples: list[Sample] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        connection = None
        while not stop.is_set():
            try:
                if connection is None or connection.is_closed():
                    connection = await asyncpg.connect(self.dsn, timeout=2)
                row = await connection.fetchrow(
                    f"SELECT (SELECT count(*) FROM service_request WHERE status = 'open') AS open, "
                    f"({LEADER_LOCK} LIMIT 1) AS leader",
                    timeout=2,
                )
                self.samples.append(Sample(time.time(), row["open"], row["leader"]))
            except DB_ERRORS:
                self.samples.append(Sample(time.time(), None, None))
                if connection is not None:
                    connection.terminate()
                connection = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
        if connection is not None:
            connection.terminate()

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at < end]


async def offered_at(dsn: str, request_id: int, until: float) -> tuple[float | None, float | None]:
    """(created_at, first offered_at) of a request as epoch seconds, waiting until it is offered or `until`."""
    created = None
    while time.monotonic() < until:
        try:
            connection = await asyncpg.connect(dsn, timeout=2)
            try:
                while time.monotonic() < until:
                    row = await connection.fetchrow(
                        "SELECT extract(epoch FROM r.created_at)::float8 AS created, "
                        "extract(epoch FROM min(a.offered_at))::float8 AS offered FROM service_request r "
                        "LEFT JOIN assignment a ON a.request_id = r.id WHERE r.id = $1 GROUP BY r.id",
                        request_id,
                    )
                    created = row["created"]
                    if row["offered"] is not None:
                        return created, row["offered"]
                    await asyncio.sleep(0.1)
            finally:
                connection.terminate()
        except DB_ERRORS:
            await asyncio.sleep(0.2)
    return created, None
