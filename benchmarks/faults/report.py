"""What one fault did, measured from its injection, and the Markdown report of the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmarks.faults.clients import CLASSES
from benchmarks.load.report import table

RESUME_TARGET_S = 5.0
UNEXPECTED = ("500", "other 5xx", "other 4xx")


@dataclass
class FaultResult:
    """Times are wall-clock epoch seconds (the service's timestamps are compared with them); None: never
    within the window."""

    name: str
    injected: float
    window: float  # seconds watched after the injection
    ready: float | None = None  # first 200 from /readyz
    leader_lost: bool = False  # did the fault take the leader lock away?
    leader: float | None = None  # a (new) leader holds the lock again
    probe_created: float | None = None  # an emergency created right after the fault: its created_at
    probe_offered: float | None = None  # ... and its first offer
    drained: float | None = None  # the backlog back to its level before the faults
    backlog_peak: int | None = None
    responses: Counter = field(default_factory=Counter)  # client-visible answers in the window, by class
    human: list[str] = field(default_factory=list)  # what had to be done for the service after the window
    detail: str = ""

    def since(self, at: float | None) -> float | None:
        return None if at is None else max(0.0, at - self.injected)

    @property
    def resumed(self) -> float | None:
        """Seconds from the fault until a newly created emergency was offered: dispatching resumed."""
        return self.since(self.probe_offered)

    @property
    def unexpected(self) -> int:
        """Answers a client should never see, fault or not: a 500 (or other 5xx but 503), an unexpected 4xx."""
        return self.responses["500"] + self.responses["other 5xx"] + self.responses["other 4xx"]


def seconds(value: float | None, window: float) -> str:
    return f"{value:.1f} s" if value is not None else f"**not within {window:.0f} s**"


def recovery_table(faults: list[FaultResult]) -> list[str]:
    rows = []
    for f in faults:
        offered = seconds(f.resumed, f.window)
        if f.probe_created is not None and f.probe_offered is not None:
            offered += f" ({(f.probe_offered - f.probe_created) * 1000:.0f} ms)"
        elif f.probe_created is None:
            offered += " (not even created)"
        drained = seconds(f.since(f.drained), f.window)
        if f.backlog_peak is not None:
            drained += f" (peak {f.backlog_peak})"
        rows.append(
            [
                f.name,
                seconds(f.since(f.ready), f.window),
                seconds(f.since(f.leader), f.window) if f.leader_lost else "–",
                offered,
                drained,
                "yes" if not f.human else "**no**: " + "; ".join(f.human),
            ]
        )
    return table(
        [
            "fault (seconds after it)",
            "/readyz OK",
            "leader again",
            "new emergency offered (its created → offered)",
            "backlog drained (peak open)",
            "recovered without a human",
        ],
        rows,
        "lrrrrl",
    )


def responses_table(windows: list[tuple[str, Counter]]) -> list[str]:
    rows = [[name, *(counts[c] for c in CLASSES)] for name, counts in windows]
    return table(["client-visible answers", *CLASSES], rows, "l" + "r" * len(CLASSES))


def verdicts(faults: list[FaultResult], checks: list[tuple[str, int, int]]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**NOT MET**"

    slow = [
        f"{f.name}: {seconds(f.resumed, f.window)}"
        for f in faults
        if f.resumed is None or f.resumed > RESUME_TARGET_S or f.human
    ]
    erred = [
        f"{f.name}: " + ", ".join(f"{f.responses[c]} × {c}" for c in UNEXPECTED if f.responses[c])
        for f in faults
        if f.unexpected
    ]
    failed = [c for c, expected, found in checks if found != expected]
    return [
        f"- Dispatching resumes ≤ {RESUME_TARGET_S:.0f} s after each fault without a human: "
        f"{verdict(not slow)}" + (f" ({'; '.join(slow)})" if slow else ""),
        "- Clients see only 503 or connection errors during a fault, never 500: "
        f"{verdict(not erred)}" + (f" ({'; '.join(erred)})" if erred else ""),
        f"- Nothing lost or duplicated (the audit below): {verdict(not failed)}"
        + (f" ({len(failed)} checks failed)" if failed else ""),
    ]


def report(
    heading: str,
    intro: str,
    faults: list[FaultResult],
    windows: list[tuple[str, Counter]],
    checks: list[tuple[str, int, int]],
    notes: list[str],
    examples: dict[str, list[str]],
) -> str:
    out = [
        heading,
        "",
        intro,
        "",
        *recovery_table(faults),
        "",
        *responses_table(windows),
        "",
        *verdicts(faults, checks),
        "",
    ]
    out += table(
        ["integrity, counted in the database after the run", "expected", "found", ""],
        [[c, e, f, "ok" if f == e else "**FAIL**"] for c, e, f in checks],
        "lrrl",
    )
    out += ["", *(f"- {note}" for note in notes)]
    shown = [(kind, x) for kind in CLASSES if kind != "ok" for x in examples.get(kind, [])]
    if shown:
        out += ["", "First answers of each class other than ok:", ""]
        out += [f"- {kind}: {x}" for kind, x in shown]
    return "\n".join(out)
