"""The fault benchmark's verdicts and tables (the benchmark itself runs by hand: README § Faults)."""

from __future__ import annotations

from collections import Counter

import httpx

from benchmarks.faults.clients import classify, retryable
from benchmarks.faults.report import FaultResult, report

CHECKS = [("201 request ids missing from the database", 0, 0)]


def healthy(name: str, at: float = 1000.0) -> FaultResult:
    return FaultResult(
        name,
        injected=at,
        window=20,
        ready=at + 2.5,
        leader_lost=True,
        leader=at + 1.0,
        probe_created=at + 2.6,
        probe_offered=at + 2.65,
        drained=at + 3.0,
        backlog_peak=12,
        responses=Counter({"ok": 300, "503": 4, "connection error": 9}),
    )


def run_report(faults: list[FaultResult], checks=CHECKS) -> str:
    windows = [("before", Counter({"ok": 10})), *((f.name, f.responses) for f in faults)]
    return report("## Faults", "intro", faults, windows, checks, ["a note"], {"503": ["`POST x` → 503"]})


def test_a_recovered_fault_reads_as_met_with_its_times_from_the_injection():
    text = run_report([healthy("kill -9 of the API")])
    assert "| kill -9 of the API | 2.5 s | 1.0 s | 2.6 s (50 ms) | 3.0 s (peak 12) | yes |" in text
    assert "| kill -9 of the API | 300 | 0 | 4 | 0 | 0 | 9 |" in text
    assert "**NOT MET**" not in text
    assert "- 503: `POST x` → 503" in text


def test_no_resumption_a_human_a_500_or_a_failed_check_is_not_met():
    stuck = FaultResult(
        "PostgreSQL restarted",
        injected=1000.0,
        window=20,
        ready=1003.2,
        leader_lost=True,
        probe_created=1003.5,
        backlog_peak=227,
        responses=Counter({"ok": 700, "500": 76}),
        human=["no scheduler was left: one started"],
    )
    slow = healthy("takeover")
    slow.probe_offered = slow.injected + 5.8
    text = run_report([stuck, slow], checks=[("requests with two live assignments", 0, 1)])
    assert (
        "| PostgreSQL restarted | 3.2 s | **not within 20 s** | **not within 20 s** | "
        "**not within 20 s** (peak 227) | **no**: no scheduler was left: one started |"
    ) in text
    verdicts = [line for line in text.splitlines() if line.startswith("- ") and "MET" in line]
    assert len(verdicts) == 3 and all("**NOT MET**" in line for line in verdicts)
    assert "takeover: 5.8 s" in verdicts[0] and "PostgreSQL restarted: 76 × 500" in verdicts[1]
    assert "| requests with two live assignments | 0 | 1 | **FAIL** |" in text


def test_answer_classes_and_what_a_client_retries():
    def response(status: int, text: str = "") -> httpx.Response:
        return httpx.Response(status, text=text)

    assert [
        classify(s, e)
        for s, e in [(None, False), (201, True), (409, True), (409, False), (503, False), (500, False), (502, False)]
    ] == ["connection error", "ok", "ok", "other 4xx", "503", "500", "other 5xx"]
    assert retryable(None) and retryable(response(503)) and retryable(response(500)) and retryable(response(429))
    assert retryable(response(409, "a request with this Idempotency-Key is still being processed; retry shortly"))
    assert not retryable(response(409, "assignment 3 is accepted by caregiver x"))
    assert not retryable(response(201)) and not retryable(response(422))
