"""The markdown report."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchmarks.load.clients import Ledger, Recorder, Watch
from benchmarks.load.common import OTHERS

# --------------------------------------------------------------------------- report


def ms(values, q) -> str:
    return f"{np.percentile(values, q) * 1000:.1f}" if len(values) else "–"


def table(header: list[str], rows: list[list[Any]], align: str) -> list[str]:
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


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
    out = [
        f"## Load benchmark (`{command}`)",
        "",
        (
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores shared by the load generator, "
            f"the server and PostgreSQL · {args.operators} operator clients · {args.apps} provider apps · "
            f"scheduler {args.scheduler} · {args.seconds:.0f} s per phase · seed {args.seed} · "
            f"load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f}"
        ),
        "",
    ]
    busy = {name: shares[OTHERS] for name, shares in r.cpu.items() if shares[OTHERS] > 0.25}
    if busy:
        taken = ", ".join(f"{v:.2f} cores in the {k} phase" for k, v in busy.items())
        out += [f"**Other processes on this machine took {taken}: those numbers are depressed.**", ""]
    rows = []
    for rec in r.phases:
        for label, ep in rec.endpoints.items():
            calls = sum(ep.statuses.values())
            statuses = ", ".join(f"{s}×{n}" for s, n in sorted(ep.statuses.items(), key=lambda x: str(x[0])))
            rows.append(
                [
                    rec.name,
                    f"`{label}`",
                    calls,
                    statuses,
                    f"{calls / rec.seconds:.1f}",
                    ms(ep.latencies, 50),
                    ms(ep.latencies, 99),
                ]
            )
    out += table(["phase", "endpoint", "calls", "statuses", "per s", "p50 ms", "p99 ms"], rows, "llrlrrr")
    out += [""] + table(
        ["create-request throughput", "201 per s", "ratio to bare", "server CPU ms per 201 (all the phase's work)"],
        [list(row) for row in r.ratios],
        "lrrr",
    )
    rows = []
    for urgency in ("emergency", "urgent", "routine"):
        values = r.latency["latency"].get(urgency, np.array([]))
        rows.append(
            [
                urgency,
                len(values),
                ms(values, 50),
                ms(values, 99),
                f"{values.max() * 1000 if len(values) else 0:.1f}",
                r.latency["never"].get(urgency, 0),
            ]
        )
    shown = (
        "the offer read from an app's offer stream" if args.app_feed == "stream" else "first app pull showing the offer"
    )
    rows.append(
        [
            f"emergency: operator's 201 → {shown} (client clocks)",
            len(r.seen),
            ms(r.seen, 50),
            ms(r.seen, 99),
            f"{r.seen.max() * 1000 if len(r.seen) else 0:.1f}",
            "",
        ]
    )
    out += [""] + table(
        [
            "offer latency, mixed phase: created_at → first offered_at (DB)",
            "n",
            "p50 ms",
            "p99 ms",
            "max ms",
            "never offered",
        ],
        rows,
        "lrrrrr",
    )
    out += [""] + table(
        ["integrity, counted in the database after the run", "expected", "found", ""],
        [[c, e, f, "ok" if f == e else "**FAIL**"] for c, e, f in r.checks],
        "lrrl",
    )
    keys = dict.fromkeys(k for shares in r.cpu.values() for k in shares)
    out += [""] + table(
        [f"CPU, cores busy (of {os.cpu_count()})", *r.cpu],
        [[k, *(f"{shares.get(k, 0.0):.2f}" for shares in r.cpu.values())] for k in keys],
        "l" + "r" * len(r.cpu),
    )
    watched = {name: w for name, w in r.watches.items() if w.samples}
    states = Counter()
    for w in watched.values():
        states.update(w.backends)
    out += [""] + table(
        ["service's PostgreSQL connections (mean): state · wait event", *watched],
        [
            [f"{s} · {wait}" if wait else s, *(f"{w.backends[(s, wait)] / w.samples:.1f}" for w in watched.values())]
            for (s, wait), _ in states.most_common(8)
        ],
        "l" + "r" * len(watched),
    )
    statuses = ", ".join(f"{s} {n}" for s, n in r.latency["statuses"])
    out += [
        "",
        f"- mixed-phase requests after the run: {statuses}",
        (
            f"- accept races lost (409: another app of the same provider won): {r.ledger.race_lost}; "
            f"visits checked out: {dict(r.ledger.verification)}"
        ),
        "- dispatcher backlog (open requests, sampled twice a second): "
        + "; ".join(f"{name} max {max(w.backlog)}, mean {np.mean(w.backlog):.1f}" for name, w in watched.items()),
        "- drain after each phase (until no request is open): "
        + ", ".join(f"{name} {s:.1f} s ({left} left)" for name, s, left in r.drains),
        f"- service log: {r.problems[0]} ERROR/Traceback lines",
    ]
    if args.app_feed == "stream":
        out.append(
            f"- offer streams: each app dropped its stream every {args.stream_drop_s:g} s or so (random) and "
            f"resumed from its last event id, {r.ledger.reconnects} times in all; the audit resumes each "
            f"once more, and its cursor below is that resumption"
        )
    if r.feed:
        out.append(
            f"- feed audit after the mixed phase (each app's cursor pulled on to the end, compared "
            f"with a full listing of its provider): {r.feed['missed']} (app, assignment) pairs the "
            f"cursor never showed, {len(r.feed['assignments'])} distinct assignments, in "
            f"{r.feed['apps']} of {r.feed['of_apps']} apps; by urgency and status now: "
            f"{dict(r.feed['kinds'])}"
        )
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
