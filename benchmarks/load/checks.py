"""The database's view after a phase: integrity, offer latency, the drain, the service's log."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from benchmarks.load.clients import Ledger, Recorder
from benchmarks.load.common import OPERATOR_NAME, PG, SERVICE_DB

DRAIN_S = 60  # how long to wait for the dispatcher to empty its queue after a phase


# --------------------------------------------------------------------------- the database's view


async def integrity(
    ledger: Ledger,
    recorders: list[Recorder],
    dsn: str = f"{PG}/{SERVICE_DB}",
) -> list[tuple[str, int, int]]:
    """(check, expected, found), counted in the database after the run."""
    connection = await asyncpg.connect(dsn)
    try:
        ids = list(ledger.created)

        async def count(sql: str, *args) -> int:
            return await connection.fetchval(sql, *args)

        found = await count("SELECT count(*) FROM service_request WHERE id = ANY($1::int[])", ids)
        in_db = await count(
            "SELECT count(*) FROM service_request WHERE kind = 'ad_hoc' AND created_by = $1",
            f"operator:{OPERATOR_NAME}",
        )
        # An emergency unanswered for HOMECARE_ESCALATE_AFTER_S is offered to more providers at once (several
        # open offers, docs/design.md § The lifecycle); beside an accepted one, or for any other request, a
        # second live assignment is a fault.
        live_twice = await count(
            "SELECT count(*) FROM (SELECT a.request_id FROM assignment a JOIN service_request r ON r.id = "
            "a.request_id WHERE a.status IN ('offered', 'accepted') GROUP BY a.request_id, r.urgency "
            "HAVING count(*) > 1 AND (r.urgency <> 'emergency' "
            "OR count(*) FILTER (WHERE a.status = 'accepted') > 0)) t"
        )
        won_twice = await count(
            "SELECT count(*) FROM (SELECT request_id FROM assignment "
            "WHERE status IN ('accepted', 'completed') GROUP BY request_id HAVING count(*) > 1) t"
        )
        orphans = await count(
            "SELECT count(*) FROM service_request r "
            "WHERE r.status IN ('assigned', 'accepted', 'in_progress') AND NOT EXISTS "
            "(SELECT 1 FROM assignment a WHERE a.request_id = r.id AND a.status IN ('offered', 'accepted'))"
        )
        visits_per_assignment = await count(
            "SELECT count(*) FROM (SELECT assignment_id FROM visit GROUP BY assignment_id HAVING count(*) > 1) t"
        )
        visits_per_client_id = await count(
            "SELECT count(*) FROM (SELECT provider_id, client_visit_id FROM visit "
            "GROUP BY provider_id, client_visit_id HAVING count(*) > 1) t"
        )
        visits = dict(await connection.fetch("SELECT client_visit_id, id FROM visit"))
        quota_off = await count(
            "SELECT count(*) FROM quota_usage q WHERE q.used <> (SELECT count(*) FROM assignment a "
            "JOIN service_request r ON r.id = a.request_id WHERE a.provider_id = q.provider_id "
            "AND r.month = q.month AND a.status IN ('offered', 'accepted', 'completed'))"
        )
    finally:
        await connection.close()
    return [
        ("errors (5xx, unexpected 4xx, transport, client checks)", 0, sum(r.error_count for r in recorders)),
        ("201 request ids missing from the database", 0, len(ids) - found),
        ("requests in the database that no 201 returned (duplicates)", 0, in_db - len(ids)),
        ("requests with two live assignments (beside an accepted one, or not an emergency)", 0, live_twice),
        ("requests accepted twice (two accepted/completed assignments)", 0, won_twice),
        ("offers two apps were told they won (200)", 0, sum(len(a) > 1 for a in ledger.winners.values())),
        ("assigned/accepted/in-progress requests with no live assignment", 0, orphans),
        ("assignments with more than one visit", 0, visits_per_assignment),
        ("client_visit_ids with more than one visit", 0, visits_per_client_id),
        (
            "visits the apps were given (201) that are not in the database as such",
            0,
            sum(visits.get(cid) != vid for cid, vid in ledger.visits.items()),
        ),
        ("visits in the database that no app was given", 0, len(visits) - len(ledger.visits)),
        ("providers whose quota_usage disagrees with their live and completed assignments", 0, quota_off),
    ]


async def offer_latency(ids: list[int], dsn: str = f"{PG}/{SERVICE_DB}") -> dict[str, Any]:
    """Per urgency: seconds from a request's created_at to its first assignment's offered_at."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT r.urgency, extract(epoch FROM (min(a.offered_at) - r.created_at))::float8 AS s "
            "FROM service_request r JOIN assignment a ON a.request_id = r.id WHERE r.id = ANY($1::int[]) "
            "GROUP BY r.id, r.urgency",
            ids,
        )
        never = dict(
            await connection.fetch(
                "SELECT urgency, count(*) FROM service_request r WHERE r.id = ANY($1::int[]) "
                "AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.request_id = r.id) GROUP BY urgency",
                ids,
            )
        )
        statuses = await connection.fetch(
            "SELECT status, count(*) FROM service_request WHERE id = ANY($1::int[]) GROUP BY status ORDER BY 2 DESC",
            ids,
        )
    finally:
        await connection.close()
    by_urgency = defaultdict(list)
    for row in rows:
        by_urgency[row["urgency"]].append(row["s"])
    return {
        "latency": {u: np.array(v) for u, v in by_urgency.items()},
        "never": never,
        "statuses": [(r["status"], r["count"]) for r in statuses],
    }


async def drain(dsn: str = f"{PG}/{SERVICE_DB}", limit: float = DRAIN_S) -> tuple[float, int]:
    """Wait (bounded) until the dispatcher has looked at every open request; (seconds, still open)."""
    connection = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        while True:
            still = await connection.fetchval("SELECT count(*) FROM service_request WHERE status = 'open'")
            if still == 0 or time.monotonic() - started > limit:
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
        excerpts += [f"{path.name}:\n" + "\n".join(lines[i : i + 25]) for i in hits[:3]]
    return count, excerpts[:3]
