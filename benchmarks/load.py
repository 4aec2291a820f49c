"""Load benchmark of the dispatch workflow on PostgreSQL (issue 5 § Performance).

    .venv/bin/python -m benchmarks.load [--seconds 60] [--operators 50] [--apps 100] [--seed 2026]
                                        [--scheduler in-process|separate] [--trace-offers] [--keep-db]

Everything runs on 127.0.0.1: a setup, then three phases of --seconds each.
- Setup: drops and recreates `homecare_bench_load` (migrated, Guandu seeded, one operator token, one
  token per provider) and `homecare_bench_bare` (one scratch table); starts the real service,
  `homecare serve` (one uvicorn process, the scheduler in-process unless --scheduler separate).
- **mixed**: operators create requests (mostly routine/urgent, 10 % emergency, each with an
  Idempotency-Key, 5 % replayed) while provider apps (several per provider, sharing its token) pull with
  their cursor, race to accept offers (409 to the losers is expected), check in and check out. Then a
  feed audit: each app pulls on from its last cursor and is compared with a full listing of its provider.
- **create-only**: the same operators alone against the service, each turn one new request with its own
  Idempotency-Key and no replay: the loop of the bare phase, so that the two throughputs compare like with
  like (replays, which the ratio would not count, are exercised in the mixed phase).
- **bare**: the service is stopped; the same operators hammer a tiny FastAPI app served by uvicorn the
  same way, whose one route does a single `INSERT ... RETURNING id` through an asyncpg pool. Create
  throughput / bare throughput is the ratio issue 5 targets (>= 0.6).
Afterwards the database is asked: lost or duplicated requests, two live assignments for one request, two
winners of one offer, duplicated visits, quota usage that disagrees with the assignments; emergency offer
latency is created_at -> first offered_at. One markdown report goes to stdout, progress to stderr; the
exit status is 1 when an integrity check fails.

Choices (elders, urgencies, keys, times) come from seeded generators; the interleaving of 150 clients on a
shared machine does not. The load generator runs on the same cores as the server and PostgreSQL, and other
processes may too: the CPU table says who was busy, and server CPU per created request is the number least
disturbed by them. Provider quotas are raised after seeding (unless --keep-quotas): a minute of load asks
for more visits than Guandu's monthly quota, and this measures throughput, not quota exhaustion. Servers
are stopped and databases dropped at the end, on failure and on Ctrl-C (--keep-db keeps them and the logs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import numpy as np
from fastapi import Body, FastAPI

from benchmarks.pg import SERVER as PG
from benchmarks.pg import recreate_database

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVICE_DB, BARE_DB = "homecare_bench_load", "homecare_bench_bare"
SERVICE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{SERVICE_DB}"
OPERATOR_NAME = "bench-operator"
CREATE = "POST /api/v1/requests"
PAGE = 100
PHASE_GRACE_S = 45  # a phase's clients get this long past the deadline to finish their last call
DRAIN_S = 60  # how long to wait for the dispatcher to empty its queue after a phase
OTHERS = "everything else on the machine (other sessions)"
CHILDREN: list[subprocess.Popen] = []
WORKDIRS: list[Path] = []  # the servers' logs, removed at the end unless --keep-db


# --------------------------------------------------------------------------- recording

@dataclass
class Endpoint:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


@dataclass
class Recorder:
    """Latency and status of every call of one phase, and every response that is an error."""

    name: str
    endpoints: dict[str, Endpoint] = field(default_factory=lambda: defaultdict(Endpoint))
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0

    async def call(self, label: str, send, expected=lambda r: r.status_code < 300, request: Any = None):
        started = time.perf_counter()
        try:
            response = await send
        except (httpx.HTTPError, OSError) as exc:  # a transport failure is an error of the run, not a crash
            self._error(label, type(exc).__name__, repr(exc), request)
            self.endpoints[label].statuses[type(exc).__name__] += 1
            return None
        self.endpoints[label].latencies.append(time.perf_counter() - started)
        self.endpoints[label].statuses[response.status_code] += 1
        if not expected(response):
            self._error(label, response.status_code, response.text, request,
                        f"{response.request.method} {response.request.url.path}")
        return response

    def _error(self, label, status, body, request, target=None) -> None:
        self.error_count += 1
        if len(self.errors) < 40:
            self.errors.append({"endpoint": label, "target": target, "status": status, "body": body[:600],
                                "request": request})

    def note(self, label: str, detail: str) -> None:
        """An error found by the client's own checks (a replay with another id, two winners ...)."""
        self._error(label, "check", detail, None)


@dataclass
class Ledger:
    """What the clients were told, to compare with the database afterwards."""

    created: dict[int, tuple[str, float, str]] = field(default_factory=dict)  # id -> urgency, 201 at, phase
    key_of: dict[int, str] = field(default_factory=dict)
    first_seen_offer: dict[int, float] = field(default_factory=dict)  # request id -> when an app saw it
    winners: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # assignment -> apps
    visits: dict[str, int] = field(default_factory=dict)  # client_visit_id -> visit id
    visit_ids: set[int] = field(default_factory=set)
    verification: Counter = field(default_factory=Counter)
    race_lost: int = 0
    app_cursor: dict[int, str | None] = field(default_factory=dict)  # app -> its last next_cursor
    app_seen: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))  # app -> assignments


# --------------------------------------------------------------------------- operators

def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def request_body(rng: random.Random, elders: list[tuple[int, list[str]]], client: int) -> dict:
    elder_id, services = rng.choice(elders)
    roll = rng.random()
    urgency = "emergency" if roll < 0.1 else "urgent" if roll < 0.4 else "routine"
    return {"elder_id": elder_id, "service": "emergency" if urgency == "emergency" else rng.choice(services),
            "urgency": urgency, "channel": "phone", "note": f"load benchmark, operator {client}"}


async def operator(i: int, client: httpx.AsyncClient, path: str, rec: Recorder, ledger: Ledger, elders,
                   deadline: float, seed: int, replay_share: float) -> None:
    rng = random.Random(f"operator:{seed}:{i}")
    label = f"POST {path}"
    while time.monotonic() < deadline:
        body, key = request_body(rng, elders, i), _uuid(rng)
        headers = {"Idempotency-Key": key}
        response = await rec.call(label, client.post(path, json=body, headers=headers),
                                  lambda r: r.status_code == 201, body)
        if response is None or response.status_code != 201:
            continue
        request_id = response.json()["id"]
        if request_id in ledger.created:
            rec.note(label, f"id {request_id} returned for two keys ({ledger.key_of[request_id]}, {key})")
        ledger.created[request_id] = (body["urgency"], time.time(), rec.name)
        ledger.key_of[request_id] = key
        if rng.random() < replay_share:  # the operator's tool retried: same key, same body
            again = await rec.call(f"{label} (replay)", client.post(path, json=body, headers=headers),
                                   lambda r: r.status_code == 201, body)
            if again is not None and again.status_code == 201 and again.json()["id"] != request_id:
                replayed = again.json()["id"]
                rec.note(f"{label} (replay)", f"key {key}: first id {request_id}, replay {replayed}")


# --------------------------------------------------------------------------- provider apps

def visit_times(rng: random.Random, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A visit of 61-66 minutes that ended a few minutes ago, inside the current month."""
    now = datetime.now(UTC)
    month_start = now.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    check_in = max(now - timedelta(minutes=rng.uniform(72, 80)), month_start + timedelta(seconds=1))
    check_out = min(check_in + timedelta(minutes=rng.uniform(61, 66)), now - timedelta(seconds=5))
    return check_in, check_out


async def make_visit(client: httpx.AsyncClient, rec: Recorder, ledger: Ledger, assignment: dict,
                     rng: random.Random, tz: ZoneInfo) -> None:
    check_in, check_out = visit_times(rng, tz)
    home = {**assignment["elder"]["location"], "coord_sys": "wgs84"}
    client_id = _uuid(rng)
    start = {"assignment_id": assignment["id"], "client_visit_id": client_id,
             "check_in": {"at": check_in.isoformat(), "location": home}}
    path = "/api/v1/provider/visits"
    response = await rec.call("POST /provider/visits (check-in)", client.post(path, json=start),
                              lambda r: r.status_code == 201, start)
    if response is None or response.status_code != 201:
        return
    visit_id = response.json()["id"]
    if visit_id in ledger.visit_ids:
        rec.note("POST /provider/visits (check-in)", f"visit {visit_id} returned for two client_visit_ids")
    ledger.visits[client_id] = visit_id
    ledger.visit_ids.add(visit_id)
    if rng.random() < 0.1:  # the phone did not hear the answer and uploads again
        again = await rec.call("POST /provider/visits (retry)", client.post(path, json=start),
                               lambda r: r.status_code in (200, 201), start)
        if again is not None and again.status_code < 300 and again.json()["id"] != visit_id:
            retried = again.json()["id"]
            rec.note("POST /provider/visits (retry)", f"{client_id}: visit {visit_id}, retry {retried}")
    end = {"at": check_out.isoformat(), "location": home, "tasks": [assignment["service"]]}
    response = await rec.call("POST /provider/visits/{id}/check-out",
                              client.post(f"{path}/{visit_id}/check-out", json=end),
                              lambda r: r.status_code == 200, {"visit_id": visit_id, **end})
    if response is not None and response.status_code == 200:
        ledger.verification[response.json()["verification"]["status"]] += 1


def lost_race(response: httpx.Response | None) -> bool:
    """409 because another app of the same provider accepted first: expected, not an error."""
    if response is None or response.status_code != 409:
        return False
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        return False
    # The winner may already have checked in and out by the time this app's accept lands.
    return detail.endswith(" is completed") or " is accepted by caregiver " in detail


async def provider_app(j: int, client: httpx.AsyncClient, rec: Recorder, ledger: Ledger, deadline: float,
                       seed: int, tz: ZoneInfo, poll: float) -> None:
    """Pull with the cursor; try each new offer (the provider's other apps try too); visit what it won."""
    rng = random.Random(f"app:{seed}:{j}")
    cursor, tried, won = None, set(), 0
    accept = "POST /provider/assignments/{id}/accept"
    while time.monotonic() < deadline:
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        response = await rec.call("GET /provider/assignments",
                                  client.get("/api/v1/provider/assignments", params=params))
        if response is None or response.status_code != 200:
            await asyncio.sleep(0.5)
            continue
        page = response.json()
        cursor, seen_at = page["next_cursor"], time.time()
        ledger.app_cursor[j] = cursor
        ledger.app_seen[j].update(a["id"] for a in page["items"])
        offers = [a for a in page["items"] if a["status"] == "offered" and a["id"] not in tried]
        for a in offers:
            ledger.first_seen_offer.setdefault(a["request_id"], seen_at)
        rng.shuffle(offers)
        for assignment in offers:
            if time.monotonic() >= deadline:
                return
            tried.add(assignment["id"])
            body = {"caregiver": f"压测{j:03d}号护理员{won:04d}"}  # unique: no overlap or travel exceptions
            response = await rec.call(
                accept, client.post(f"/api/v1/provider/assignments/{assignment['id']}/accept", json=body),
                lambda r: r.status_code == 200 or lost_race(r), {"assignment_id": assignment["id"], **body})
            if response is None or response.status_code != 200:
                ledger.race_lost += lost_race(response)
                continue
            if response.json()["caregiver"] != body["caregiver"]:
                other = response.json()["caregiver"]
                rec.note(accept, f"assignment {assignment['id']}: 200 to app {j} for {other}")
            ledger.winners[assignment["id"]].append(j)
            won += 1
            await make_visit(client, rec, ledger, assignment, rng, tz)
        if len(page["items"]) < PAGE:  # caught up: the app polls again in a moment
            await asyncio.sleep(rng.uniform(0.5, 1.5) * poll)


# --------------------------------------------------------------------------- a phase

@dataclass
class Watch:
    """Sampled twice a second in a service phase: the dispatcher's queue and what the backends wait on."""

    backlog: list[int] = field(default_factory=list)
    backends: Counter = field(default_factory=Counter)  # (state, wait event) -> samples
    samples: int = 0


async def watch_database(watch: Watch, deadline: float) -> None:
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        while time.monotonic() < deadline:
            watch.backlog.append(await connection.fetchval(
                "SELECT count(*) FROM service_request WHERE status = 'open'"))
            rows = await connection.fetch(
                "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS wait, "
                "count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() "
                "GROUP BY 1, 2",
                SERVICE_DB)
            for row in rows:
                watch.backends[(row["state"], row["wait"] if row["state"] == "active" else "")] += row["n"]
            watch.samples += 1
            await asyncio.sleep(0.5)
    except (asyncpg.PostgresError, OSError) as exc:  # the watch is a diagnostic: losing it loses no result
        print(f"# database watch stopped: {exc!r}", file=sys.stderr)
    finally:
        await connection.close()


async def run_phase(rec: Recorder, base_url: str, seconds: float, *, operators: int, operator_path: str,
                    operator_token: str | None, elders, seed: int, replay_share: float, apps: list[str] = (),
                    tz: ZoneInfo | None = None, poll: float = 1.0, ledger: Ledger | None = None,
                    watch: Watch | None = None) -> Ledger:
    ledger = ledger or Ledger()
    clients = []

    def new_client(token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0, trust_env=False,
                                   limits=httpx.Limits(max_connections=2, max_keepalive_connections=2))
        clients.append(client)
        return client

    async def guarded(name: str, client_work) -> None:
        try:
            await client_work
        except Exception as exc:  # noqa: BLE001 - a client's surprise is an error of the run; the rest go on
            rec.note(name, f"client stopped: {exc!r}")

    deadline = time.monotonic() + seconds
    tasks = [guarded(f"operator {i}", operator(i, new_client(operator_token), operator_path, rec, ledger,
                                                elders, deadline, seed, replay_share))
             for i in range(operators)]
    tasks += [guarded(f"app {j}", provider_app(j, new_client(token), rec, ledger, deadline, seed, tz, poll))
              for j, token in enumerate(apps)]
    watcher = asyncio.create_task(watch_database(watch, deadline)) if watch else None
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds + PHASE_GRACE_S):
            await asyncio.gather(*tasks)
    except TimeoutError:
        rec.note("phase", f"clients still busy {PHASE_GRACE_S} s after the deadline: cut off")
    finally:
        rec.seconds = time.monotonic() - started
        if watcher:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        for client in clients:
            await client.aclose()
    return ledger


async def feed_audit(base_url: str, apps: list[str], ledger: Ledger, rec: Recorder) -> dict[str, Any]:
    """Does the cursor ever skip a row? Every app pulls on from its last cursor once the dispatcher is idle;
    what a full listing of its provider holds and the app never saw was skipped by the cursor."""
    async def listing(client: httpx.AsyncClient, cursor: str | None, limit: int) -> list[dict]:
        items = []
        for _ in range(1000):  # bounded: 1000 pages
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            response = await rec.call("GET /provider/assignments (audit)",
                                      client.get("/api/v1/provider/assignments", params=params))
            if response is None or response.status_code != 200:
                break
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if len(page["items"]) < limit:
                break
        return items

    def client_for(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60.0, trust_env=False)

    full: dict[str, dict[int, dict]] = {}
    for token in dict.fromkeys(apps):
        async with client_for(token) as client:
            full[token] = {a["id"]: a for a in await listing(client, None, 500)}
    missed, examples = {}, []
    for j, token in enumerate(apps):
        async with client_for(token) as client:
            rest = await listing(client, ledger.app_cursor.get(j), PAGE)
        seen = ledger.app_seen[j] | {a["id"] for a in rest}
        for assignment_id in full[token].keys() - seen:
            missed.setdefault(assignment_id, []).append(j)
    for assignment_id, missing_apps in sorted(missed.items())[:5]:
        a = full[apps[missing_apps[0]]][assignment_id]
        examples.append(f"assignment {assignment_id} (request {a['request_id']}, {a['status']}, offered_at "
                        f"{a['offered_at']}, updated_at {a['updated_at']}) never shown to apps "
                        f"{missing_apps}")
    kinds = Counter(f"{a['urgency']} {a['status']}"
                    for a in (full[apps[js[0]]][i] for i, js in missed.items()))
    return {"missed": sum(len(v) for v in missed.values()), "assignments": set(missed), "kinds": kinds,
            "apps": len({j for v in missed.values() for j in v}), "of_apps": len(apps), "examples": examples}


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
        row_id = await app.state.pool.fetchval("INSERT INTO bare_insert (body) VALUES ($1) RETURNING id",
                                               json.dumps(body))
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
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
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
                    "AND database = (SELECT oid FROM pg_database WHERE datname = $1)", SERVICE_DB):
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


async def prepare_service_database(keep_quotas: bool):
    """Migrate, seed Guandu, make tokens; (operator token, [(provider id, token)], [(elder id, services)])."""
    from sqlalchemy import text

    from seed.load import load_world
    from seed.world import generate_world
    from service.db import make_engine, make_sessionmaker
    from service.migrate import migrate
    from service.tokens.service import create_token

    await asyncio.to_thread(migrate, SERVICE_URL)
    engine = make_engine(SERVICE_URL)
    try:
        sessions = make_sessionmaker(engine)
        await load_world(sessions, generate_world("guandu"))
        async with sessions() as session:
            if not keep_quotas:
                await session.exec(text("UPDATE provider SET monthly_quota = 1000000"))
                await session.commit()
            providers = (await session.exec(text(
                "SELECT id FROM provider WHERE status = 'active' ORDER BY id"))).all()
            elders = (await session.exec(text(
                "SELECT id, services FROM elder WHERE status = 'active' ORDER BY id"))).all()
            operator_token = await create_token(session, role="operator", name=OPERATOR_NAME,
                                                actor="benchmark")
            tokens = [(pid, await create_token(session, role="provider", name=f"bench-provider-{pid}",
                                               provider_id=pid, actor="benchmark")) for (pid,) in providers]
    finally:
        await engine.dispose()
    return operator_token, tokens, [(e.id, list(e.services)) for e in elders]


async def prepare_bare_database() -> None:
    connection = await asyncpg.connect(f"{PG}/{BARE_DB}")
    try:
        await connection.execute("CREATE TABLE bare_insert (id bigserial PRIMARY KEY, body jsonb NOT NULL, "
                                 "created_at timestamptz NOT NULL DEFAULT now())")
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
            "SELECT assignment_id, extract(epoch FROM written - stamped)::float8 AS lag "
            "FROM bench_offer_trace")
    finally:
        await connection.close()
    lags = np.array([r["lag"] for r in rows])
    gone = np.array([r["lag"] for r in rows if r["assignment_id"] in missed])
    if not len(lags):
        return "no offers"
    text = (f"written this long after the offered_at/updated_at they carry: p50 {np.median(lags):.1f} s, "
            f"max {lags.max():.1f} s, {int((lags > 10).sum())} of {len(lags)} more than the feed's 10 s lag")
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
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) "
                                      "AND pid <> pg_backend_pid()", [SERVICE_DB, BARE_DB])
    finally:
        await connection.close()
    return {row["pid"]: _proc_cpu(row["pid"]) for row in rows}


def _machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4] - values[7]) / TICK  # less idle, iowait and steal


async def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, Any]:
    own = os.times()
    return {**{name: _proc_cpu(pid) for name, pid in pids.items() if pid},
            "load generator": own.user + own.system,
            "postgres (this benchmark's backends)": await _backend_cpu(),
            "machine (all processes)": _machine_busy(), "wall": time.monotonic()}


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


# --------------------------------------------------------------------------- the database's view

async def integrity(ledger: Ledger, recorders: list[Recorder]) -> list[tuple[str, int, int]]:
    """(check, expected, found), counted in the database after the run."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        ids = list(ledger.created)

        async def count(sql: str, *args) -> int:
            return await connection.fetchval(sql, *args)

        found = await count("SELECT count(*) FROM service_request WHERE id = ANY($1::int[])", ids)
        in_db = await count("SELECT count(*) FROM service_request WHERE kind = 'ad_hoc' AND created_by = $1",
                            f"operator:{OPERATOR_NAME}")
        live_twice = await count(
            "SELECT count(*) FROM (SELECT request_id FROM assignment WHERE status IN ('offered', 'accepted') "
            "GROUP BY request_id HAVING count(*) > 1) t")
        won_twice = await count(
            "SELECT count(*) FROM (SELECT request_id FROM assignment "
            "WHERE status IN ('accepted', 'completed') GROUP BY request_id HAVING count(*) > 1) t")
        orphans = await count(
            "SELECT count(*) FROM service_request r "
            "WHERE r.status IN ('assigned', 'accepted', 'in_progress') AND NOT EXISTS "
            "(SELECT 1 FROM assignment a WHERE a.request_id = r.id AND a.status IN ('offered', 'accepted'))")
        visits_per_assignment = await count(
            "SELECT count(*) FROM (SELECT assignment_id FROM visit GROUP BY assignment_id "
            "HAVING count(*) > 1) t")
        visits_per_client_id = await count(
            "SELECT count(*) FROM (SELECT provider_id, client_visit_id FROM visit "
            "GROUP BY provider_id, client_visit_id HAVING count(*) > 1) t")
        visits = dict(await connection.fetch("SELECT client_visit_id, id FROM visit"))
        quota_off = await count(
            "SELECT count(*) FROM quota_usage q WHERE q.used <> (SELECT count(*) FROM assignment a "
            "JOIN service_request r ON r.id = a.request_id WHERE a.provider_id = q.provider_id "
            "AND r.month = q.month AND a.status IN ('offered', 'accepted', 'completed'))")
    finally:
        await connection.close()
    return [
        ("errors (5xx, unexpected 4xx, transport, client checks)", 0, sum(r.error_count for r in recorders)),
        ("201 request ids missing from the database", 0, len(ids) - found),
        ("requests in the database that no 201 returned (duplicates)", 0, in_db - len(ids)),
        ("requests with two live assignments", 0, live_twice),
        ("requests accepted twice (two accepted/completed assignments)", 0, won_twice),
        ("offers two apps were told they won (200)", 0, sum(len(a) > 1 for a in ledger.winners.values())),
        ("assigned/accepted/in-progress requests with no live assignment", 0, orphans),
        ("assignments with more than one visit", 0, visits_per_assignment),
        ("client_visit_ids with more than one visit", 0, visits_per_client_id),
        ("visits the apps were given (201) that are not in the database as such", 0,
         sum(visits.get(cid) != vid for cid, vid in ledger.visits.items())),
        ("visits in the database that no app was given", 0, len(visits) - len(ledger.visits)),
        ("providers whose quota_usage disagrees with their live and completed assignments", 0, quota_off),
    ]


async def offer_latency(ids: list[int]) -> dict[str, Any]:
    """Per urgency: seconds from a request's created_at to its first assignment's offered_at."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    try:
        rows = await connection.fetch(
            "SELECT r.urgency, extract(epoch FROM (min(a.offered_at) - r.created_at))::float8 AS s "
            "FROM service_request r JOIN assignment a ON a.request_id = r.id WHERE r.id = ANY($1::int[]) "
            "GROUP BY r.id, r.urgency", ids)
        never = dict(await connection.fetch(
            "SELECT urgency, count(*) FROM service_request r WHERE r.id = ANY($1::int[]) "
            "AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.request_id = r.id) GROUP BY urgency", ids))
        statuses = await connection.fetch(
            "SELECT status, count(*) FROM service_request WHERE id = ANY($1::int[]) "
            "GROUP BY status ORDER BY 2 DESC", ids)
    finally:
        await connection.close()
    by_urgency = defaultdict(list)
    for row in rows:
        by_urgency[row["urgency"]].append(row["s"])
    return {"latency": {u: np.array(v) for u, v in by_urgency.items()}, "never": never,
            "statuses": [(r["status"], r["count"]) for r in statuses]}


async def drain() -> tuple[float, int]:
    """Wait (bounded) until the dispatcher has looked at every open request; (seconds, still open)."""
    connection = await asyncpg.connect(f"{PG}/{SERVICE_DB}")
    started = time.monotonic()
    try:
        while True:
            still = await connection.fetchval("SELECT count(*) FROM service_request WHERE status = 'open'")
            if still == 0 or time.monotonic() - started > DRAIN_S:
                return time.monotonic() - started, still
            await asyncio.sleep(0.25)
    finally:
        await connection.close()


def log_problems(*paths: Path) -> tuple[int, list[str]]:
    """Tracebacks and ERROR lines the service (and scheduler) logged, with the first few in full."""
    count, excerpts = 0, []
    for path in paths:
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        hits = [i for i, line in enumerate(lines) if " ERROR " in line or line.startswith("Traceback")]
        count += len(hits)
        excerpts += [f"{path.name}:\n" + "\n".join(lines[i:i + 25]) for i in hits[:3]]
    return count, excerpts[:3]


# --------------------------------------------------------------------------- report

def ms(values, q) -> str:
    return f"{np.percentile(values, q) * 1000:.1f}" if len(values) else "–"


def table(header: list[str], rows: list[list[Any]], align: str) -> list[str]:
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return ["| " + " | ".join(header) + " |", rule,
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


@dataclass
class Results:
    phases: list[Recorder]
    ledger: Ledger
    checks: list[tuple[str, int, int]]
    latency: dict[str, Any]
    seen: np.ndarray
    ratios: list[tuple[str, float, str, str]]
    cpu: dict[str, dict[str, float]]
    watches: dict[str, Watch]
    drains: list[tuple[str, float, int]]
    problems: tuple[int, list[str]]
    feed: dict[str, Any]


def report(args, r: Results, command: str, load_before: float) -> str:
    out = [f"## Load benchmark (`{command}`)", "",
           (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores shared by the load generator, "
            f"the server and PostgreSQL · {args.operators} operator clients · {args.apps} provider apps · "
            f"scheduler {args.scheduler} · {args.seconds:.0f} s per phase · seed {args.seed} · "
            f"load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f}"), ""]
    busy = {name: shares[OTHERS] for name, shares in r.cpu.items() if shares[OTHERS] > 0.25}
    if busy:
        taken = ", ".join(f"{v:.2f} cores in the {k} phase" for k, v in busy.items())
        out += [f"**Other processes on this machine took {taken}: those numbers are depressed.**", ""]
    rows = []
    for rec in r.phases:
        for label, ep in rec.endpoints.items():
            calls = sum(ep.statuses.values())
            statuses = ", ".join(f"{s}×{n}" for s, n in sorted(ep.statuses.items(), key=lambda x: str(x[0])))
            rows.append([rec.name, f"`{label}`", calls, statuses, f"{calls / rec.seconds:.1f}",
                         ms(ep.latencies, 50), ms(ep.latencies, 99)])
    out += table(["phase", "endpoint", "calls", "statuses", "per s", "p50 ms", "p99 ms"], rows, "llrlrrr")
    out += [""] + table(["create-request throughput", "201 per s", "ratio to bare",
                         "server CPU ms per 201 (all the phase's work)"],
                        [list(row) for row in r.ratios], "lrrr")
    rows = []
    for urgency in ("emergency", "urgent", "routine"):
        values = r.latency["latency"].get(urgency, np.array([]))
        rows.append([urgency, len(values), ms(values, 50), ms(values, 99),
                     f"{values.max() * 1000 if len(values) else 0:.1f}", r.latency["never"].get(urgency, 0)])
    rows.append(["emergency: operator's 201 → first app pull showing the offer (client clocks)", len(r.seen),
                 ms(r.seen, 50), ms(r.seen, 99), f"{r.seen.max() * 1000 if len(r.seen) else 0:.1f}", ""])
    out += [""] + table(["offer latency, mixed phase: created_at → first offered_at (DB)", "n", "p50 ms",
                         "p99 ms", "max ms", "never offered"], rows, "lrrrrr")
    out += [""] + table(["integrity, counted in the database after the run", "expected", "found", ""],
                        [[c, e, f, "ok" if f == e else "**FAIL**"] for c, e, f in r.checks], "lrrl")
    keys = dict.fromkeys(k for shares in r.cpu.values() for k in shares)
    out += [""] + table([f"CPU, cores busy (of {os.cpu_count()})", *r.cpu],
                        [[k, *(f"{shares.get(k, 0.0):.2f}" for shares in r.cpu.values())] for k in keys],
                        "l" + "r" * len(r.cpu))
    watched = {name: w for name, w in r.watches.items() if w.samples}
    states = Counter()
    for w in watched.values():
        states.update(w.backends)
    out += [""] + table(["service's PostgreSQL connections (mean): state · wait event", *watched],
                        [[f"{s} · {wait}" if wait else s, *(f"{w.backends[(s, wait)] / w.samples:.1f}"
                                                            for w in watched.values())]
                         for (s, wait), _ in states.most_common(8)], "l" + "r" * len(watched))
    statuses = ", ".join(f"{s} {n}" for s, n in r.latency["statuses"])
    out += ["", f"- mixed-phase requests after the run: {statuses}",
            (f"- accept races lost (409: another app of the same provider won): {r.ledger.race_lost}; "
             f"visits checked out: {dict(r.ledger.verification)}"),
            "- dispatcher backlog (open requests, sampled twice a second): " + "; ".join(
                f"{name} max {max(w.backlog)}, mean {np.mean(w.backlog):.1f}" for name, w in watched.items()),
            "- drain after each phase (until no request is open): " + ", ".join(
                f"{name} {s:.1f} s ({left} left)" for name, s, left in r.drains),
            f"- service log: {r.problems[0]} ERROR/Traceback lines"]
    if r.feed:
        out.append(f"- feed audit after the mixed phase (each app's cursor pulled on to the end, compared "
                   f"with a full listing of its provider): {r.feed['missed']} (app, assignment) pairs the "
                   f"cursor never showed, {len(r.feed['assignments'])} distinct assignments, in "
                   f"{r.feed['apps']} of {r.feed['of_apps']} apps; by urgency and status now: "
                   f"{dict(r.feed['kinds'])}")
        for example in r.feed["examples"]:
            out.append(f"  - {example}")
        if "trace" in r.feed:
            out.append(f"- offer trace (trigger, mixed phase): {r.feed['trace']}")
    errors = [e for rec in r.phases for e in rec.errors]
    if errors:
        out += ["", "### Errors (first 40)", ""]
        for e in errors:
            request = f" request `{json.dumps(e['request'], ensure_ascii=False)}`" if e["request"] else ""
            out.append(f"- `{e['endpoint']}` {e['target'] or ''} → **{e['status']}**: `{e['body']}`{request}")
    if r.problems[1]:
        out += ["", "### Service log excerpts", ""] + [f"```\n{x}\n```" for x in r.problems[1]]
    return "\n".join(out)


# --------------------------------------------------------------------------- main

async def service_phases(args, workdir: Path) -> tuple[list[Recorder], Ledger, dict, dict, list, list, dict]:
    tz = ZoneInfo("Asia/Shanghai")
    operator_token, tokens, elders = await prepare_service_database(args.keep_quotas)
    if args.trace_offers:
        await install_offer_trace()
    env = {**os.environ, "HOMECARE_DATABASE_URL": SERVICE_URL, "HOMECARE_SCHEDULER_ENABLED": "true"}
    if args.service_log_level:
        env["HOMECARE_LOG_LEVEL"] = args.service_log_level
    homecare, port = str(Path(sys.executable).parent / "homecare"), free_port()
    separate = args.scheduler == "separate"
    server = start_process([homecare, "serve", "--host", HOST, "--port", str(port),
                            *(["--no-scheduler"] if separate else [])], env, workdir / "service.log")
    await wait_ready(server, f"http://{HOST}:{port}/readyz", workdir / "service.log")
    scheduler = None
    if separate:  # the production set-up: API replicas run no jobs; one leader process, woken by NOTIFY
        scheduler = start_process([homecare, "scheduler"], env, workdir / "scheduler.log")
        await wait_for_leader(scheduler, workdir / "scheduler.log")
    pids = {"server": server.pid, "scheduler process": scheduler.pid if scheduler else None}
    print(f"# service pid {server.pid} on port {port}; {len(elders)} elders, {len(tokens)} providers",
          file=sys.stderr)
    apps = [tokens[j % len(tokens)][1] for j in range(args.apps)]
    common = {"operators": args.operators, "operator_path": "/api/v1/requests",
              "operator_token": operator_token, "elders": elders}
    plan = [("mixed", {"seed": args.seed, "apps": apps, "tz": tz, "poll": args.poll,
                       "replay_share": args.replay_share})]
    if not args.no_create_only:  # the bare phase's very loop: one POST per turn, no replays
        plan.append(("create-only", {"seed": args.seed + 1, "replay_share": 0.0}))
    phases, cpu, watches, drains, ledger = [], {}, {}, [], Ledger()
    for name, extra in plan:
        rec, watches[name] = Recorder(name), Watch()
        before = await cpu_snapshot(pids)
        await run_phase(rec, f"http://{HOST}:{port}", args.seconds, ledger=ledger, watch=watches[name],
                        **common, **extra)
        cpu[name] = cpu_share(before, await cpu_snapshot(pids))
        phases.append(rec)
        drains.append((name, *(await drain())))
        if name == "mixed":
            audit = Recorder("feed audit")  # its calls stay out of the phase's table, its errors do not
            feed = await feed_audit(f"http://{HOST}:{port}", apps, ledger, audit)
            rec.errors += audit.errors
            rec.error_count += audit.error_count
            if args.trace_offers:
                feed["trace"] = await offer_trace(feed["assignments"])
        print(f"# {name} phase done: {rec.error_count} errors", file=sys.stderr)
    stop_process(server)
    if scheduler is not None:
        stop_process(scheduler)
    return phases, ledger, cpu, watches, drains, elders, feed


async def bare_phase(args, workdir: Path, elders) -> tuple[Recorder, dict[str, float]]:
    await prepare_bare_database()
    port = free_port()
    server = start_process([sys.executable, "-m", "benchmarks.load", "--serve-bare", str(port),
                            "--dsn", f"{PG}/{BARE_DB}"], dict(os.environ), workdir / "bare.log")
    await wait_ready(server, f"http://{HOST}:{port}/readyz", workdir / "bare.log")
    rec = Recorder("bare")
    before = await cpu_snapshot({"server": server.pid})
    await run_phase(rec, f"http://{HOST}:{port}", args.seconds, operators=args.operators,
                    operator_path="/bare", operator_token=None, elders=elders, seed=args.seed + 2,
                    replay_share=0.0)
    cpu = cpu_share(before, await cpu_snapshot({"server": server.pid}))
    stop_process(server)
    return rec, cpu


async def main(args) -> int:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="homecare-bench-"))
    WORKDIRS.append(workdir)
    print(f"# preparing {SERVICE_DB} and {BARE_DB} (server logs in {workdir} until the end)", file=sys.stderr)
    await recreate_database(SERVICE_DB)
    await recreate_database(BARE_DB)
    phases, ledger, cpu, watches, drains, elders, feed = await service_phases(args, workdir)
    mixed_ids = [i for i, (_, _, phase) in ledger.created.items() if phase == "mixed"]
    seen = np.array([ledger.first_seen_offer[i] - ledger.created[i][1] for i in mixed_ids
                     if ledger.created[i][0] == "emergency" and i in ledger.first_seen_offer])
    latency, checks = await offer_latency(mixed_ids), await integrity(ledger, phases)
    checks.append(("(app, assignment) pairs an app's feed cursor never showed", 0, feed["missed"]))
    bare, cpu["bare"] = await bare_phase(args, workdir, elders)
    phases.append(bare)
    checks[0] = (checks[0][0], 0, sum(rec.error_count for rec in phases))  # the bare phase's too

    def cpu_ms(phase: str, rate: float) -> str:  # less sensitive to other sessions' load than throughput
        cores = cpu[phase].get("server", 0.0) + cpu[phase].get("scheduler process", 0.0)
        return f"{cores * 1000 / rate:.1f}" if rate else "–"

    bare_rate = bare.endpoints["POST /bare"].statuses.get(201, 0) / bare.seconds
    ratios = [("bare: one INSERT … RETURNING id through asyncpg", f"{bare_rate:.1f}", "1.00",
               cpu_ms("bare", bare_rate))]
    for rec in phases[:-1]:
        rate = rec.endpoints[CREATE].statuses.get(201, 0) / rec.seconds
        ratio = f"{rate / bare_rate:.2f}" if bare_rate else "–"
        ratios.append((f"service, {rec.name} phase", f"{rate:.1f}", ratio, cpu_ms(rec.name, rate)))
    results = Results(phases, ledger, checks, latency, seen, ratios, cpu, watches, drains,
                      log_problems(workdir / "service.log", workdir / "scheduler.log"), feed)
    command = " ".join([".venv/bin/python -m benchmarks.load", *sys.argv[1:]])
    print(report(args, results, command, load_before))
    if args.keep_db:
        print(f"# kept {SERVICE_DB}, {BARE_DB} and the logs in {workdir}", file=sys.stderr)
    return 0 if all(found == expected for _, expected, found in checks) else 1


def cleanup(keep_db: bool) -> None:
    while CHILDREN:
        process = CHILDREN.pop()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            stop_process(process)
    if not keep_db:
        for name in (SERVICE_DB, BARE_DB):
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(recreate_database(name, drop_only=True))
        for workdir in WORKDIRS:
            shutil.rmtree(workdir, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    parser.add_argument("--operators", type=int, default=50, help="operator clients creating requests")
    parser.add_argument("--apps", type=int, default=100, help="provider apps, spread over the providers")
    parser.add_argument("--seed", type=int, default=2026, help="same seed, same choices")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="mean seconds a caught-up provider app waits before pulling again (default 1)")
    parser.add_argument("--replay-share", type=float, default=0.05,
                        help="share of the mixed phase's creates retried with the same Idempotency-Key (default 0.05)")
    parser.add_argument("--scheduler", choices=["in-process", "separate"], default="in-process",
                        help="in-process: `homecare serve` runs the jobs (default); separate: "
                             "`serve --no-scheduler` plus a `homecare scheduler` process, as in production")
    parser.add_argument("--no-create-only", action="store_true", help="skip the create-only phase")
    parser.add_argument("--keep-quotas", action="store_true", help="keep the seeded monthly quotas")
    parser.add_argument("--keep-db", action="store_true", help="keep the databases and logs afterwards")
    parser.add_argument("--trace-offers", action="store_true",
                        help="diagnosis: a trigger records when each assignment row is really written, to "
                             "compare with the offered_at/updated_at it carries (adds one insert per offer)")
    parser.add_argument("--service-log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="HOMECARE_LOG_LEVEL for the service (default: the service's own)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600 or not 1 <= args.operators <= 1000 or not 0 <= args.apps <= 1000:
        parser.error("--seconds must be 1..3600, --operators 1..1000, --apps 0..1000")
    if args.poll <= 0 or not 0 <= args.replay_share <= 1:
        parser.error("--poll must be > 0 and --replay-share 0..1")
    return args


def run(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.dsn)
        return 0

    def terminated(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`&`)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the servers run on uvloop too
    try:
        return asyncio.run(main(args))
    except KeyboardInterrupt:
        print("interrupted: stopping the servers and dropping the databases", file=sys.stderr)
        return 130
    finally:
        asyncio.set_event_loop_policy(None)
        cleanup(args.keep_db)


if __name__ == "__main__":
    sys.exit(run())
