"""Clients that behave as real ones do when the service fails: they retry with the same Idempotency-Key.

Operators (each a call-centre seat, pausing between calls) and provider apps are the load benchmark's,
with one difference: an answer that says "not now" — a connection error, a 5xx, 429, or 409 "still being
processed" — is retried with the very same key and body (backing off, honouring Retry-After) until a
real answer comes, or the run's grace period is over. So every create an operator started ends acknowledged
exactly once, and the audit afterwards can demand exactly that. Every answer is kept with its wall time,
so each fault's window can be counted by class.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

from benchmarks.load.clients import PAGE, Ledger, Recorder, lost_race, random_uuid, request_body, visit_times

CREATE = "POST /api/v1/requests"
RETRY_MIN_S, RETRY_MAX_S = 0.2, 2.0
CLASSES = ("ok", "other 4xx", "503", "500", "other 5xx", "connection error")


def classify(status: int | None, expected: bool) -> str:
    """The class of one client-visible answer (None: no HTTP answer at all)."""
    if status is None:
        return "connection error"
    if expected or status < 300:
        return "ok"  # includes expected refusals, e.g. 409 to the app that lost an accept race
    if status < 500:
        return "other 4xx"
    return {503: "503", 500: "500"}.get(status, "other 5xx")


def retryable(response: httpx.Response | None) -> bool:
    if response is None or response.status_code >= 500 or response.status_code == 429:
        return True
    return response.status_code == 409 and "still being processed" in response.text


@dataclass
class Run:
    """When the clients stop starting new work (deadline) and stop retrying (until), both monotonic: open
    while the faults go on, set by the benchmark once they are over."""

    deadline: float = math.inf
    until: float = math.inf

    def end(self, grace: float) -> None:
        self.deadline = time.monotonic()
        self.until = self.deadline + grace


@dataclass
class Timeline(Recorder):
    """A Recorder (per-endpoint statuses and latencies) that also keeps each answer's wall time and class."""

    events: list[tuple[float, str, str]] = field(default_factory=list)  # (time.time() answered, class, label)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failed_checks: int = 0  # the clients' own checks (an id for two keys ...) and retries given up

    async def call(self, label, send, expected=lambda r: r.status_code < 300, request=None):
        started = time.perf_counter()
        try:
            response = await send
        except (httpx.HTTPError, OSError) as exc:
            self.endpoints[label].statuses[type(exc).__name__] += 1
            self._keep("connection error", label, f"`{label}` → {type(exc).__name__}")
            return None
        self.endpoints[label].latencies.append(time.perf_counter() - started)
        self.endpoints[label].statuses[response.status_code] += 1
        kind = classify(response.status_code, expected(response))
        self._keep(kind, label, f"`{label}` → {response.status_code}: `{response.text[:300]}`")
        return response

    def _keep(self, kind: str, label: str, example: str) -> None:
        self.events.append((time.time(), kind, label))
        if kind != "ok" and len(self.examples[kind]) < 3:
            self.examples[kind].append(example)

    def note(self, label: str, detail: str) -> None:
        self.failed_checks += 1
        super().note(label, detail)

    def count(self, start: float, end: float) -> Counter:
        return Counter(kind for at, kind, _ in self.events if start <= at < end)

    def by_endpoint(self, kinds: tuple[str, ...]) -> Counter:
        return Counter(label for _, kind, label in self.events if kind in kinds)


async def until_answered(rec: Timeline, label: str, send, expected, run: Run, request=None):
    """Call `send()` until an answer that is not "try again"; None if the run's grace period ended first."""
    delay = RETRY_MIN_S
    while True:
        response = await rec.call(label, send(), expected, request)
        if not retryable(response):
            return response
        if time.monotonic() >= run.until:
            rec.note(label, f"no answer but 'try again' before the grace period ended: {request}")
            return None
        after = response.headers.get("Retry-After") if response is not None else None
        wait = float(after) if after and after.isdigit() else delay
        await asyncio.sleep(min(wait, RETRY_MAX_S) * random.uniform(0.8, 1.2))
        delay = min(delay * 2, RETRY_MAX_S)


async def create(
    client: httpx.AsyncClient, rec: Timeline, ledger: Ledger, body: dict, key: str, run: Run
) -> tuple[int, float] | None:
    """One operator's create, retried with its key until acknowledged: (request id, wall time of the 201)."""
    response = await until_answered(
        rec,
        CREATE,
        lambda: client.post("/api/v1/requests", json=body, headers={"Idempotency-Key": key}),
        lambda r: r.status_code == 201,
        run,
        body,
    )
    if response is None or response.status_code != 201:
        return None
    request_id, acknowledged = response.json()["id"], time.time()
    if ledger.key_of.get(request_id, key) != key:
        rec.note(CREATE, f"id {request_id} returned for two keys ({ledger.key_of[request_id]}, {key})")
    ledger.created.setdefault(request_id, (body["urgency"], acknowledged, rec.name))
    ledger.key_of[request_id] = key
    return request_id, acknowledged


async def operator(
    i: int, client: httpx.AsyncClient, rec: Timeline, ledger: Ledger, elders, run: Run, seed: int, think: float
) -> None:
    rng = random.Random(f"faults-operator:{seed}:{i}")
    while time.monotonic() < run.deadline:
        await create(client, rec, ledger, request_body(rng, elders, i), random_uuid(rng), run)
        await asyncio.sleep(rng.expovariate(1 / think))


async def make_visit(
    client: httpx.AsyncClient,
    rec: Timeline,
    ledger: Ledger,
    assignment: dict,
    rng: random.Random,
    run: Run,
) -> None:
    """Check in and out, each retried with the same client_visit_id / time until answered."""
    check_in, check_out = visit_times(rng)
    home = {**assignment["elder"]["location"], "coord_sys": "wgs84"}
    client_id = random_uuid(rng)
    start = {
        "assignment_id": assignment["id"],
        "client_visit_id": client_id,
        "check_in": {"at": check_in.isoformat(), "location": home},
    }
    response = await until_answered(
        rec,
        "POST /provider/visits (check-in)",
        lambda: client.post("/api/v1/provider/visits", json=start),
        lambda r: r.status_code in (200, 201),
        run,
        start,
    )
    if response is None or response.status_code not in (200, 201):
        return
    visit_id = response.json()["id"]
    if visit_id in ledger.visit_ids:  # client_id is new: its visit must be too
        rec.note("POST /provider/visits (check-in)", f"visit {visit_id} returned for two client_visit_ids")
    ledger.visits[client_id] = visit_id
    ledger.visit_ids.add(visit_id)
    end = {"at": check_out.isoformat(), "location": home, "tasks": [assignment["service"]]}
    response = await until_answered(
        rec,
        "POST /provider/visits/{id}/check-out",
        lambda: client.post(f"/api/v1/provider/visits/{visit_id}/check-out", json=end),
        lambda r: r.status_code == 200,
        run,
        {"visit_id": visit_id, **end},
    )
    if response is not None and response.status_code == 200:
        ledger.verification[response.json()["verification"]["status"]] += 1


async def provider_app(
    j: int, client: httpx.AsyncClient, rec: Timeline, ledger: Ledger, run: Run, seed: int, poll: float
) -> None:
    """Pull with the cursor (a failed pull is simply pulled again); accept new offers, retrying an
    unanswered accept with the same caregiver (the service answers a repeat with the same 200); visit."""
    rng = random.Random(f"faults-app:{seed}:{j}")
    cursor, tried, won = None, set(), 0
    accept = "POST /provider/assignments/{id}/accept"
    while time.monotonic() < run.deadline:
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        response = await rec.call(
            "GET /provider/assignments", client.get("/api/v1/provider/assignments", params=params)
        )
        if response is None or response.status_code != 200:
            await asyncio.sleep(rng.uniform(0.3, 0.7))
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
            if time.monotonic() >= run.deadline:
                return
            tried.add(assignment["id"])
            body = {"caregiver": f"故障{j:03d}号护理员{won:04d}"}  # unique: no overlap or travel exceptions
            url = f"/api/v1/provider/assignments/{assignment['id']}/accept"
            response = await until_answered(
                rec,
                accept,
                lambda u=url, b=body: client.post(u, json=b),
                lambda r: r.status_code == 200 or lost_race(r),
                run,
                {"assignment_id": assignment["id"], **body},
            )
            if response is None or response.status_code != 200:
                ledger.race_lost += lost_race(response)
                continue
            if response.json()["caregiver"] != body["caregiver"]:
                rec.note(accept, f"assignment {assignment['id']}: 200 to app {j} for another caregiver")
            ledger.winners[assignment["id"]].append(j)
            won += 1
            await make_visit(client, rec, ledger, assignment, rng, run)
        if len(page["items"]) < PAGE:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * poll)
