"""Benchmark of the dispatch engine against a plain min-cost-flow anchor (issue 4).

    .venv/bin/python -m benchmarks.dispatch [--elders 300000] [--providers 100] [--repeat 3] [--anchor-nearest 8,6]

Writes the instances with seed/scale.py under benchmarks/out/, runs the anchor (benchmarks/anchor.py)
once per number of candidate providers per elder in --anchor-nearest (8, and the engine's own 6, so
the engine is also compared at the same number) and `homecare dispatch solve` as whole separate
processes (reading the JSON included; CPU seconds and peak RSS from os.wait4 of each child: on a
shared machine CPU time moves far less than wall time), then instant assignment and visit days
in-process. Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from dispatch.monthly import NEAREST_PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
SOLVE = [sys.executable, "-c", "from homecare_cli.engine import dispatch_app; dispatch_app()", "solve"]
ANCHOR = [sys.executable, "-m", "benchmarks.anchor"]


def instance_file(elders: int, providers: int, spare: float, seed: int = 1) -> Path:
    from seed.scale import write_scale_instance

    path = OUT / f"city-{elders}-{providers}-{round(spare * 100)}pct-s{seed}.json"
    if not path.exists():
        write_scale_instance(path, elders, providers, spare, seed)
    return path


def run_process(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{command} failed with status {status}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(command: list[str], repeat: int) -> dict:
    runs = [run_process(command) for _ in range(repeat)]
    return {
        "seconds": statistics.median(r[0] for r in runs),
        "cpu": statistics.median(r[1] for r in runs),
        "rss_mb": max(r[2] for r in runs),
    }


def plan_summary(path: Path) -> dict:
    plan = json.loads(path.read_text())
    return {"visits": plan["visits_assigned"], "cost": plan["cost"], "gap": plan.get("quality", {}).get("cost_gap")}


def compare(elders: int, providers: int, spare: float, repeat: int, anchor_nearest: tuple[int, ...]) -> dict:
    """The case's runs: each anchor (by candidates per elder), then ours."""
    instance = instance_file(elders, providers, spare)
    ours_plan = OUT / f"{instance.stem}.plan.json"
    row: dict = {"case": f"{elders:,} elders, {providers} providers, {spare:.0%} spare", "anchors": {}}
    for nearest in anchor_nearest:
        plan = OUT / f"{instance.stem}.anchor{nearest}.json"
        row["anchors"][nearest] = measure(
            ANCHOR + [str(instance), "-o", str(plan), "--nearest", str(nearest)], repeat
        ) | plan_summary(plan)
    row["ours"] = measure(SOLVE + [str(instance), "-o", str(ours_plan)], repeat) | plan_summary(ours_plan)
    return row


def instant_latency(instance_path: Path, requests: int = 20000) -> dict:
    from dispatch.formats import instance_from_dict
    from dispatch.instant import InstantRequest, ProviderIndex

    instance = instance_from_dict(json.loads(instance_path.read_text()))
    index = ProviderIndex(instance.providers, instance.policy)
    left = {p.id: p.quota // 20 for p in instance.providers}
    rng = np.random.default_rng(0)
    seconds = []
    for i in rng.integers(0, len(instance.elders), requests).tolist():
        elder = instance.elders[i]
        request = InstantRequest(
            elder.lat, elder.lon, elder.area, elder.services, urgency="emergency" if i % 10 == 0 else "normal"
        )
        started = time.perf_counter()
        index.assign(request, left)
        seconds.append(time.perf_counter() - started)
    return {"p50_ms": float(np.percentile(seconds, 50)) * 1e3, "p99_ms": float(np.percentile(seconds, 99)) * 1e3}


def visit_days_seconds(plan_path: Path) -> dict:
    from dispatch.days import DayRules, ProviderCalendar, VisitNeed, daily_capacity, place_visits

    plan = json.loads(plan_path.read_text())
    month = [date(2026, 12, 1) + timedelta(days=d) for d in range(31)]
    rng = np.random.default_rng(0)
    needs = [
        VisitNeed(
            a["elder"],
            a["provider"],
            a["visits"],
            frozenset(rng.choice(5, 2, replace=False).tolist()) if rng.random() < 0.3 else frozenset(),
        )
        for a in plan["assignments"]
    ]
    load: dict[str, int] = {}
    for need in needs:
        load[need.provider] = load.get(need.provider, 0) + need.visits
    rules = DayRules()
    per_caregiver = daily_capacity(ProviderCalendar(1, month[0], month[-1]), rules)
    calendars = {
        p: ProviderCalendar(math.ceil(v / 26 / per_caregiver) + 1, month[0], month[-1]) for p, v in load.items()
    }
    started = time.perf_counter()
    schedule = place_visits(month, needs, calendars, rules)
    return {
        "seconds": time.perf_counter() - started,
        "visits": sum(n.visits for n in needs),
        "unplaced": len(schedule.unplaced),
    }


def print_table(rows: list[dict]) -> None:
    counts = sorted({n for row in rows for n in row["anchors"]}, reverse=True)
    ratios = " | ".join(f"vs anchor at {n} (time / CPU)" for n in counts)
    print(
        f"| case | solver | candidates per elder | time (s) | CPU (s) | peak RSS (MB) | visits | cost (km) | "
        f"proven gap | {ratios} |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(counts))
    for row in rows:
        anchors, ours = row["anchors"], row["ours"]
        runs = [("anchor", f"{n} nearest", anchors[n]) for n in counts if n in anchors]
        runs.append(("ours", f"{NEAREST_PROVIDERS} at LP prices", ours))
        for name, candidates, r in runs:
            ratio = " | ".join(
                f"{ours['seconds'] / anchors[n]['seconds']:.2f}x / {ours['cpu'] / anchors[n]['cpu']:.2f}x"
                if name == "ours" and n in anchors
                else ""
                for n in counts
            )
            gap = f"{r['gap']:.4%}" if r.get("gap") is not None else ""
            print(
                f"| {row['case']} | {name} | {candidates} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
                f"{r['rss_mb']:.0f} | "
                f"{r['visits']:,} | {r['cost']:,.1f} | {gap} | {ratio} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="dispatch engine benchmark")
    parser.add_argument("--elders", type=int, default=300_000)
    parser.add_argument("--providers", type=int, default=100)
    parser.add_argument("--big", type=int, default=1_000_000, help="elders of the large run (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--anchor-nearest",
        default=f"8,{NEAREST_PROVIDERS}",
        help="candidate providers per elder of each anchor run, comma-separated",
    )
    args = parser.parse_args()
    anchor_nearest = tuple(int(n) for n in args.anchor_nearest.split(",") if n)
    OUT.mkdir(parents=True, exist_ok=True)

    rows = [compare(args.elders, args.providers, spare, args.repeat, anchor_nearest) for spare in (0.10, 0.02)]
    if args.big:
        rows.append(compare(args.big, args.providers, 0.10, 1, ()))
    print_table(rows)
    city = instance_file(args.elders, args.providers, 0.10)
    latency = instant_latency(city)
    print(
        f"\ninstant assignment, {args.providers} providers: p50 {latency['p50_ms']:.3f} ms, "
        f"p99 {latency['p99_ms']:.3f} ms"
    )
    days = visit_days_seconds(OUT / f"{city.stem}.plan.json")
    print(
        f"visit days for the city month: {days['visits']:,} visits in {days['seconds']:.1f} s "
        f"({days['unplaced']} unplaced)"
    )


if __name__ == "__main__":
    main()
