"""The load generator: what the clients record, the operators, the provider apps, and a phase of them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from httpx_sse import aconnect_sse

from benchmarks.load.common import PG, SERVICE_DB

PAGE = 100
PHASE_GRACE_S = 45  # a phase's clients get this long past the deadline to finish their last call


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
            self._error(
                label,
                response.status_code,
                response.text,
                request,
                f"{response.request.method} {response.request.url.path}",
            )
        return response

    def _error(self, label, status, body, request, target=None) -> None:
        self.error_count += 1
        if len(self.errors) < 40:
            self.errors.append(
                {"endpoint": label, "target": target, "status": status, "body": body[:600], "request": request}
            )

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
    app_position: dict[int, str | None] = field(default_factory=dict)  # app -> its offer stream's last event id
    stream_twice: int = 0  # (app, assignment) pairs the offer stream sent more than once
    reconnects: int = 0  # offer streams dropped on purpose by the apps, and resumed


# --------------------------------------------------------------------------- operators


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def request_body(rng: random.Random, elders: list[tuple[int, list[str]]], client: int) -> dict:
    elder_id, services = rng.choice(elders)
    roll = rng.random()
    urgency = "emergency" if roll < 0.1 else "urgent" if roll < 0.4 else "routine"
    return {
        "elder_id": elder_id,
        "service": "emergency" if urgency == "emergency" else rng.choice(services),
        "urgency": urgency,
        "channel": "phone",
        "note": f"load benchmark, operator {client}",
    }


async def operator(
    i: int,
    client: httpx.AsyncClient,
    path: str,
    rec: Recorder,
    ledger: Ledger,
    elders,
    deadline: float,
    seed: int,
    replay_share: float,
) -> None:
    rng = random.Random(f"operator:{seed}:{i}")
    label = f"POST {path}"
    while time.monotonic() < deadline:
        body, key = request_body(rng, elders, i), random_uuid(rng)
        headers = {"Idempotency-Key": key}
        response = await rec.call(
            label, client.post(path, json=body, headers=headers), lambda r: r.status_code == 201, body
        )
        if response is None or response.status_code != 201:
            continue
        request_id = response.json()["id"]
        if request_id in ledger.created:
            rec.note(label, f"id {request_id} returned for two keys ({ledger.key_of[request_id]}, {key})")
        ledger.created[request_id] = (body["urgency"], time.time(), rec.name)
        ledger.key_of[request_id] = key
        if rng.random() < replay_share:  # the operator's tool retried: same key, same body
            again = await rec.call(
                f"{label} (replay)", client.post(path, json=body, headers=headers), lambda r: r.status_code == 201, body
            )
            if again is not None and again.status_code == 201 and again.json()["id"] != request_id:
                replayed = again.json()["id"]
                rec.note(f"{label} (replay)", f"key {key}: first id {request_id}, replay {replayed}")


# --------------------------------------------------------------------------- provider apps


def visit_times(rng: random.Random) -> tuple[datetime, datetime]:
    """A visit as a phone in a short run can record one: checked in now (after its request was made, which
    the service requires of an ad-hoc request) and out a few seconds on (within the allowed clock skew).
    Shorter than a home-care visit's 60 minutes, so such visits verify as `short_duration`: the benchmark
    measures the load of the workflow, not the care."""
    check_in = datetime.now(UTC)
    return check_in, check_in + timedelta(seconds=rng.uniform(2, 5))


async def make_visit(
    client: httpx.AsyncClient, rec: Recorder, ledger: Ledger, assignment: dict, rng: random.Random
) -> None:
    check_in, check_out = visit_times(rng)
    home = {**assignment["elder"]["location"], "coord_sys": "wgs84"}
    client_id = random_uuid(rng)
    start = {
        "assignment_id": assignment["id"],
        "client_visit_id": client_id,
        "check_in": {"at": check_in.isoformat(), "location": home},
    }
    path = "/api/v1/provider/visits"
    response = await rec.call(
        "POST /provider/visits (check-in)", client.post(path, json=start), lambda r: r.status_code == 201, start
    )
    if response is None or response.status_code != 201:
        return
    visit_id = response.json()["id"]
    if visit_id in ledger.visit_ids:
        rec.note("POST /provider/visits (check-in)", f"visit {visit_id} returned for two client_visit_ids")
    ledger.visits[client_id] = visit_id
    ledger.visit_ids.add(visit_id)
    if rng.random() < 0.1:  # the phone did not hear the answer and uploads again
        again = await rec.call(
            "POST /provider/visits (retry)", client.post(path, json=start), lambda r: r.status_code in (200, 201), start
        )
        if again is not None and again.status_code < 300 and again.json()["id"] != visit_id:
            retried = again.json()["id"]
            rec.note("POST /provider/visits (retry)", f"{client_id}: visit {visit_id}, retry {retried}")
    end = {"at": check_out.isoformat(), "location": home, "tasks": [assignment["service"]]}
    response = await rec.call(
        "POST /provider/visits/{id}/check-out",
        client.post(f"{path}/{visit_id}/check-out", json=end),
        lambda r: r.status_code == 200,
        {"visit_id": visit_id, **end},
    )
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


async def take_offer(
    j: int,
    client: httpx.AsyncClient,
    rec: Recorder,
    ledger: Ledger,
    assignment: dict,
    won: int,
    rng: random.Random,
) -> bool:
    """Try to accept an offer (the provider's other apps try too); make the visit if this app won it."""
    accept = "POST /provider/assignments/{id}/accept"
    body = {"caregiver": f"压测{j:03d}号护理员{won:04d}"}  # unique: no overlap or travel exceptions
    response = await rec.call(
        accept,
        client.post(f"/api/v1/provider/assignments/{assignment['id']}/accept", json=body),
        lambda r: r.status_code == 200 or lost_race(r),
        {"assignment_id": assignment["id"], **body},
    )
    if response is None or response.status_code != 200:
        ledger.race_lost += lost_race(response)
        return False
    if response.json()["caregiver"] != body["caregiver"]:
        rec.note(accept, f"assignment {assignment['id']}: 200 to app {j} for {response.json()['caregiver']}")
    ledger.winners[assignment["id"]].append(j)
    await make_visit(client, rec, ledger, assignment, rng)
    return True


async def provider_app(
    j: int,
    client: httpx.AsyncClient,
    rec: Recorder,
    ledger: Ledger,
    deadline: float,
    seed: int,
    poll: float,
) -> None:
    """Pull with the cursor; try each new offer (the provider's other apps try too); visit what it won."""
    rng = random.Random(f"app:{seed}:{j}")
    cursor, tried, won = None, set(), 0
    while time.monotonic() < deadline:
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        response = await rec.call(
            "GET /provider/assignments", client.get("/api/v1/provider/assignments", params=params)
        )
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
            won += await take_offer(j, client, rec, ledger, assignment, won, rng)
        if len(page["items"]) < PAGE:  # caught up: the app polls again in a moment
            await asyncio.sleep(rng.uniform(0.5, 1.5) * poll)


STREAM = "/api/v1/provider/offers/stream"
STREAM_LABEL = "GET /provider/offers/stream (connect → ready)"


async def read_stream(
    client: httpx.AsyncClient, rec: Recorder, position: str | None, on_offer, deadline: float, label: str = STREAM_LABEL
) -> tuple[str | None, bool]:
    """One connection of an app's offer stream, until `deadline` (monotonic): (last event id, ended cleanly).
    `on_offer(assignment)` is called for each offer event as it is read."""
    headers = {"Last-Event-ID": position} if position else {}
    started = time.perf_counter()
    timeout = httpx.Timeout(10.0, read=45.0)
    try:
        async with (
            asyncio.timeout(max(deadline - time.monotonic(), 0)),
            aconnect_sse(client, "GET", STREAM, headers=headers, timeout=timeout) as source,
        ):
            if source.response.status_code != 200:
                await source.response.aread()
                rec.endpoints[label].statuses[source.response.status_code] += 1
                rec._error(label, source.response.status_code, source.response.text, {"Last-Event-ID": position})
                return position, False
            async for event in source.aiter_sse():
                if event.id:
                    position = event.id
                if event.event == "offer":
                    on_offer(json.loads(event.data))
                elif event.event == "ready":
                    rec.endpoints[label].latencies.append(time.perf_counter() - started)
                    rec.endpoints[label].statuses[200] += 1
    except TimeoutError:  # the deadline: this connection's time is up
        return position, True
    except (httpx.HTTPError, OSError) as exc:
        rec._error(label, type(exc).__name__, repr(exc), {"Last-Event-ID": position})
        rec.endpoints[label].statuses[type(exc).__name__] += 1
        return position, False
    return position, True  # the service ended it (its maximum age): reconnect


async def provider_app_stream(
    j: int,
    client: httpx.AsyncClient,
    rec: Recorder,
    ledger: Ledger,
    deadline: float,
    seed: int,
    drop_s: float,
) -> None:
    """The app on the offer stream: each offer is seen the moment it is read; a worker tries them in turn
    (the provider's other apps try too) and visits what it won. Every `drop_s` or so (random) the app drops
    its connection and resumes from its last event id, as a phone changing networks does."""
    rng = random.Random(f"app:{seed}:{j}")
    offers: asyncio.Queue = asyncio.Queue()
    delivered: set[int] = set()

    def on_offer(assignment: dict) -> None:
        if assignment["id"] in delivered:
            ledger.stream_twice += 1
            return
        delivered.add(assignment["id"])
        ledger.app_seen[j].add(assignment["id"])
        if assignment["status"] == "offered":
            ledger.first_seen_offer.setdefault(assignment["request_id"], time.time())
            offers.put_nowait(assignment)

    async def listen() -> None:
        position = None
        while time.monotonic() < deadline:
            until = min(deadline, time.monotonic() + rng.uniform(0.5, 1.5) * drop_s)
            position, clean = await read_stream(client, rec, position, on_offer, until)
            ledger.app_position[j] = position
            if time.monotonic() < deadline:
                ledger.reconnects += 1
                if not clean:
                    await asyncio.sleep(0.5)

    listener = asyncio.create_task(listen())
    won = 0
    try:
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    assignment = await offers.get()
            except TimeoutError:
                break
            won += await take_offer(j, client, rec, ledger, assignment, won, rng)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await listener


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
            watch.backlog.append(
                await connection.fetchval("SELECT count(*) FROM service_request WHERE status = 'open'")
            )
            rows = await connection.fetch(
                "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS wait, "
                "count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() "
                "GROUP BY 1, 2",
                SERVICE_DB,
            )
            for row in rows:
                watch.backends[(row["state"], row["wait"] if row["state"] == "active" else "")] += row["n"]
            watch.samples += 1
            await asyncio.sleep(0.5)
    except (asyncpg.PostgresError, OSError) as exc:  # the watch is a diagnostic: losing it loses no result
        print(f"# database watch stopped: {exc!r}", file=sys.stderr)
    finally:
        await connection.close()


async def run_phase(
    rec: Recorder,
    base_urls: list[str],
    seconds: float,
    *,
    operators: int,
    operator_path: str,
    operator_token: str | None,
    elders,
    seed: int,
    replay_share: float,
    apps: list[str] = (),
    poll: float = 1.0,
    ledger: Ledger | None = None,
    watch: Watch | None = None,
    stream_drop_s: float | None = None,
) -> Ledger:
    ledger = ledger or Ledger()
    clients = []

    def new_client(token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            base_url=base_urls[len(clients) % len(base_urls)],
            headers=headers,
            timeout=30.0,
            trust_env=False,
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
        )
        clients.append(client)
        return client

    async def guarded(name: str, client_work) -> None:
        try:
            await client_work
        except Exception as exc:  # noqa: BLE001 - a client's surprise is an error of the run; the rest go on
            rec.note(name, f"client stopped: {exc!r}")

    # The clients first (each builds an SSL context: 150 take a second or two), then the phase's clock.
    operator_clients = [new_client(operator_token) for _ in range(operators)]
    app_clients = [new_client(token) for token in apps]
    started = time.monotonic()
    deadline = started + seconds
    tasks = [
        guarded(f"operator {i}", operator(i, client, operator_path, rec, ledger, elders, deadline, seed, replay_share))
        for i, client in enumerate(operator_clients)
    ]
    tasks += [
        guarded(
            f"app {j}",
            provider_app_stream(j, client, rec, ledger, deadline, seed, stream_drop_s)
            if stream_drop_s
            else provider_app(j, client, rec, ledger, deadline, seed, poll),
        )
        for j, client in enumerate(app_clients)
    ]
    watcher = asyncio.create_task(watch_database(watch, deadline)) if watch else None
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
            response = await rec.call(
                "GET /provider/assignments (audit)", client.get("/api/v1/provider/assignments", params=params)
            )
            if response is None or response.status_code != 200:
                break
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if len(page["items"]) < limit:
                break
        return items

    def client_for(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0, trust_env=False
        )

    async def resumed(client: httpx.AsyncClient, j: int) -> set[int]:
        """What the app's offer stream sends from its last event id until `ready`."""
        got: set[int] = set()
        ready = asyncio.Event()
        label = "GET /provider/offers/stream (audit)"

        async def until_ready() -> None:
            async with aconnect_sse(
                client,
                "GET",
                STREAM,
                headers={"Last-Event-ID": ledger.app_position[j]} if ledger.app_position.get(j) else {},
            ) as source:
                async for event in source.aiter_sse():
                    if event.event == "offer":
                        if json.loads(event.data)["id"] in ledger.app_seen[j]:
                            ledger.stream_twice += 1
                        got.add(json.loads(event.data)["id"])
                    elif event.event == "ready":
                        ready.set()
                        return

        try:
            async with asyncio.timeout(60):
                await until_ready()
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            rec._error(label, type(exc).__name__, repr(exc), None)
        return got

    full: dict[str, dict[int, dict]] = {}
    for token in dict.fromkeys(apps):
        async with client_for(token) as client:
            full[token] = {a["id"]: a for a in await listing(client, None, 500)}
    missed, examples = {}, []
    for j, token in enumerate(apps):
        async with client_for(token) as client:
            rest = (
                [{"id": i} for i in await resumed(client, j)]
                if j in ledger.app_position
                else await listing(client, ledger.app_cursor.get(j), PAGE)
            )
        seen = ledger.app_seen[j] | {a["id"] for a in rest}
        for assignment_id in full[token].keys() - seen:
            missed.setdefault(assignment_id, []).append(j)
    for assignment_id, missing_apps in sorted(missed.items())[:5]:
        a = full[apps[missing_apps[0]]][assignment_id]
        examples.append(
            f"assignment {assignment_id} (request {a['request_id']}, {a['status']}, offered_at "
            f"{a['offered_at']}, updated_at {a['updated_at']}) never shown to apps "
            f"{missing_apps}"
        )
    kinds = Counter(f"{a['urgency']} {a['status']}" for a in (full[apps[js[0]]][i] for i, js in missed.items()))
    return {
        "missed": sum(len(v) for v in missed.values()),
        "assignments": set(missed),
        "kinds": kinds,
        "apps": len({j for v in missed.values() for j in v}),
        "of_apps": len(apps),
        "examples": examples,
    }
