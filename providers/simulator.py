"""A field simulator: one provider's caregivers working through a month against a running service.

Each round pulls what changed, takes or declines the month's offers, places every accepted
assignment's visit at a past time of the month (the service refuses check-ins in the future and
before the request's month), then replays the visits in time order: online phones check in and out
as it happens, offline phones upload their visits later in one batch. `speed` is how many field
seconds pass per real second during the replay; 0 replays without waiting.

Running it again changes nothing: decided offers and completed assignments are left alone, and a
visit's client_visit_id is derived from its assignment, so even a half-done visit is resumed, not
doubled. Running it again later in the month, when new offers have come, places their visits around
the ones already made: each run first learns the month's visits from the service and books their
caregivers on the rota, so a caregiver is never in two homes at once (the service's `overlap`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.client import ProviderClient
from providers.errors import ConflictError, NotFoundError, ProviderApiError, ServiceUnreachable
from providers.fieldwork import (
    LONGEST_VISIT,
    Habits,
    Job,
    PlannedVisit,
    Rota,
    decide_offers,
    plan_visit,
    visit_intents,
)
from providers.models import Assignment, CheckInRecord, CheckOutRecord, Position, Visit, VisitRecord
from providers.months import CHINA, assignment_month, check_month, month_of

# Check-outs stay this far behind the service's clock, well inside its 2-minute skew allowance.
CLOCK_MARGIN = timedelta(minutes=1)


@dataclass
class FieldReport:
    month: str
    accepted: int = 0
    declined: int = 0
    lost_offers: int = 0  # expired or cancelled before we answered
    visits: int = 0  # checked in and out during this run
    verified: int = 0
    exceptions: Counter = field(default_factory=Counter)
    batch_uploads: int = 0
    offline_visits: int = 0
    postponed: int = 0  # accepted, but the month has not yet had a time for them
    other_months: int = 0  # offers for another month, left for that month's run
    failures: Counter = field(default_factory=Counter)  # the service's refusals, by "status title"
    surprises: list[tuple[int, list[str], list[str]]] = field(default_factory=list)  # (assignment, meant, got)
    aborted: str | None = None

    def lines(self) -> list[str]:
        exceptions = ", ".join(f"{code} {n}" for code, n in sorted(self.exceptions.items())) or "none"
        lines = [
            f"month {self.month}: offers accepted {self.accepted}, declined {self.declined}, lost {self.lost_offers}",
            f"visits {self.visits}: verified {self.verified}; exceptions: {exceptions}",
            f"offline: {self.offline_visits} visits in {self.batch_uploads} batch uploads",
            f"postponed (no time yet this month) {self.postponed}; other months' offers left {self.other_months}",
        ]
        if self.failures:
            lines.append("refused by the service: " + ", ".join(f"{k} x{n}" for k, n in sorted(self.failures.items())))
        for assignment_id, meant, got in self.surprises:
            lines.append(f"surprise: assignment {assignment_id} meant {meant or 'verified'}, service found {got}")
        if self.aborted:
            lines.append(f"stopped early: {self.aborted}")
        return lines


def job_of(assignment: Assignment) -> Job:
    window = None
    if assignment.window_start and assignment.window_end:
        window = (assignment.window_start, assignment.window_end)
    home = assignment.elder.location  # the service keeps homes in WGS-84
    return Job(
        assignment.id, assignment.service, (home.lat, home.lon), assignment.planned_date, window, assignment.caregiver
    )


class FieldSimulator:
    def __init__(
        self,
        client: ProviderClient,
        roster: Sequence[str],
        *,
        month: str | None = None,
        seed: int = 2026,
        speed: float = 0.0,
        habits: Habits | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        narrate: Callable[[str], None] | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 (no waiting) or a positive factor")
        self.client, self.seed, self.speed = client, seed, speed
        self.habits = habits or Habits()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.month = check_month(month or month_of(self.clock()))
        self.rota = Rota(roster)
        self.report = FieldReport(self.month)
        self._sleep, self._narrate = sleep, narrate or (lambda _line: None)
        self.planned: dict[int, PlannedVisit] = {}
        """Every visit this run meant to make, by assignment id: what the service should find."""
        self._handled: set[int] = set()
        self._elders: dict[int, str] = {}

    async def run(self, max_rounds: int = 5) -> FieldReport:
        """Rounds of pull → decide → replay, until a pull brings nothing new for the month."""
        try:
            await self._book_known_visits()
            for _ in range(max_rounds):
                changed = [a for a in await self.client.pull_changes() if a.id not in self._handled]
                ours = [a for a in changed if assignment_month(a) == self.month]
                self.report.other_months += sum(1 for a in changed if a.status == "offered" and a not in ours)
                offers = [a for a in ours if a.status == "offered"]
                waiting = [a for a in ours if a.status == "accepted"]
                if not offers and not waiting:
                    break
                await self._round(offers, waiting)
        except ServiceUnreachable as exc:
            self.report.aborted = str(exc)
        return self.report

    async def follow(self, max_offers: int) -> FieldReport:
        """Live, as a phone on the offer stream: each offer of the month is decided the moment it arrives
        (accept or decline, then the visit), until `max_offers` were handled; cancel the task to stop sooner.
        Offers the service makes while the stream is down come when it reconnects (ProviderClient.offers)."""
        try:
            await self._book_known_visits()
            handled = 0
            async for offer in self.client.offers():
                if offer.id in self._handled or offer.status != "offered":
                    continue
                if assignment_month(offer) != self.month:
                    self._handled.add(offer.id)
                    self.report.other_months += 1
                    continue
                await self._round([offer], [])
                handled += 1
                if handled >= max_offers:
                    break
        except ServiceUnreachable as exc:
            self.report.aborted = str(exc)
        return self.report

    async def _book_known_visits(self) -> None:
        """The month's visits already made (an earlier run, or the provider's real staff) go on the rota;
        one still open is booked for as long as the longest visit this simulator makes."""
        for visit in await self.client.month_visits(self.month):
            if visit.caregiver:
                end = visit.check_out.at if visit.check_out else visit.check_in.at + LONGEST_VISIT
                self.rota.book(visit.caregiver, visit.check_in.at, end)

    async def _round(self, offers: list[Assignment], waiting: list[Assignment]) -> None:
        horizon = self.clock() - CLOCK_MARGIN
        self._handled.update(a.id for a in offers + waiting)
        self._elders.update((a.id, a.elder.name) for a in offers + waiting)
        decisions = decide_offers([a.id for a in offers], self.habits, self.seed)
        taken = {d.assignment_id for d in decisions if d.accept}
        jobs = [job_of(a) for a in sorted(waiting + [a for a in offers if a.id in taken], key=lambda a: a.id)]
        intents = visit_intents([j.assignment_id for j in jobs], self.habits, self.seed)
        plans = {
            j.assignment_id: plan_visit(
                j,
                intents[j.assignment_id],
                month=self.month,
                horizon=horizon,
                rota=self.rota,
                habits=self.habits,
                seed=self.seed,
            )
            for j in jobs
        }
        for decision in decisions:
            if not await self._answer(decision.assignment_id, decision.reason, plans.get(decision.assignment_id)):
                plans.pop(decision.assignment_id, None)
        self.report.postponed += sum(1 for plan in plans.values() if plan is None)
        self.planned.update((i, plan) for i, plan in plans.items() if plan is not None)
        await self._replay([plan for plan in plans.values() if plan is not None])

    async def _answer(self, assignment_id: int, decline_reason: str | None, plan: PlannedVisit | None) -> bool:
        """Accept (naming the planned caregiver) or decline; False when the offer is gone or refused."""
        try:
            if decline_reason is not None:
                await self.client.decline(assignment_id, decline_reason)
                self.report.declined += 1
                self._narrate(f"declined assignment {assignment_id}: {decline_reason}")
                return False
            today = self.clock().astimezone(CHINA).date()
            caregiver = plan.caregiver if plan else self.rota.candidates(today, assignment_id)[0]
            await self.client.accept(assignment_id, caregiver)
            self.report.accepted += 1
            self._narrate(f"accepted assignment {assignment_id} for {self._elders[assignment_id]}: {caregiver} goes")
            return True
        except (ConflictError, NotFoundError):
            self.report.lost_offers += 1
        except ProviderApiError as exc:
            self._refused(exc)
        return False

    async def _replay(self, plans: list[PlannedVisit]) -> None:
        events = []
        for plan in plans:
            if plan.offline:
                events.append((plan.upload_at, 2, plan.assignment_id, plan))
            else:
                events.append((plan.check_in_at, 0, plan.assignment_id, plan))
                events.append((plan.check_out_at, 1, plan.assignment_id, plan))
        events.sort(key=lambda e: e[:3])
        started: dict[int, Visit] = {}
        unsent = {plan.assignment_id: plan for plan in plans if plan.offline}
        previous = None
        for at, step, _, plan in events:
            if self.speed and previous is not None and at > previous:
                await self._sleep((at - previous).total_seconds() / self.speed)
            previous = at
            if step == 0:
                started[plan.assignment_id] = await self._check_in(plan)
            elif step == 1 and plan.assignment_id in started:
                await self._check_out(plan, started[plan.assignment_id])
            elif step == 2:
                await self._upload(plan.caregiver, at, unsent)

    async def _check_in(self, plan: PlannedVisit) -> Visit | None:
        try:
            visit = await self.client.check_in(
                plan.assignment_id, plan.check_in_at, *plan.check_in_fix, "gcj02", client_visit_id=plan.client_visit_id
            )
        except ProviderApiError as exc:
            self._refused(exc)
            return None
        self._narrate(
            f"{_local(plan.check_in_at)} {plan.caregiver} checked in at {self._elders[plan.assignment_id]}'s "
            f"({visit.check_in.distance_m or 0:.0f} m from home)"
        )
        return visit

    async def _check_out(self, plan: PlannedVisit, visit: Visit | None) -> None:
        if visit is None:
            return
        # A visit begun in an earlier, interrupted run keeps its first check-in: end it as long after.
        at = visit.check_in.at + (plan.check_out_at - plan.check_in_at)
        try:
            ended = await self.client.check_out(visit.id, at, *plan.check_out_fix, "gcj02", plan.tasks, plan.note)
        except ProviderApiError as exc:
            self._refused(exc)
            return
        self._record(plan, ended)

    async def _upload(self, caregiver: str, at: datetime, unsent: dict[int, PlannedVisit]) -> None:
        """The phone is back online: everything it holds that has ended goes up in one batch."""
        ready = [p for p in unsent.values() if p.caregiver == caregiver and p.check_out_at <= at]
        if not ready:
            return
        for plan in ready:
            del unsent[plan.assignment_id]
        records = [
            VisitRecord(
                assignment_id=p.assignment_id,
                client_visit_id=p.client_visit_id,
                check_in=CheckInRecord(at=p.check_in_at, location=_gcj02(p.check_in_fix)),
                check_out=CheckOutRecord(
                    at=p.check_out_at, location=_gcj02(p.check_out_fix), tasks=list(p.tasks), note=p.note
                ),
            )
            for p in ready
        ]
        try:
            results = await self.client.upload_batch(records)
        except ProviderApiError as exc:
            self._refused(exc)
            return
        self.report.batch_uploads += 1
        self._narrate(f"{_local(at)} {caregiver}'s phone is online again: uploaded {len(records)} visit(s)")
        for plan, result in zip(ready, results, strict=True):
            if result.ok and result.visit is not None:
                self.report.offline_visits += 1
                self._record(plan, result.visit)
            elif result.error is not None:
                self.report.failures[f"{result.error.status} {result.error.title}"] += 1

    def _record(self, plan: PlannedVisit, visit: Visit) -> None:
        self.report.visits += 1
        found = visit.verification.exceptions
        self.report.exceptions.update(found)
        if visit.verification.status == "verified":
            self.report.verified += 1
        if sorted(found) != sorted(plan.intended_exceptions):
            self.report.surprises.append((plan.assignment_id, plan.intended_exceptions, found))
        verdict = f"exception ({', '.join(found)})" if found else visit.verification.status
        elder = self._elders[plan.assignment_id]
        self._narrate(
            f"{_local(plan.check_out_at)} {plan.caregiver} checked out from {elder}'s after "
            f"{visit.duration_minutes:.0f} min: {verdict}"
        )

    def _refused(self, exc: ProviderApiError) -> None:
        self.report.failures[f"{exc.status} {exc.title}"] += 1
        self._narrate(f"refused: {exc}")


def _gcj02(fix: tuple[float, float]) -> Position:
    return Position(lat=fix[0], lon=fix[1], coord_sys="gcj02")


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%m-%d %H:%M")


async def simulate_month(client: ProviderClient, roster: Sequence[str], **options: Any) -> FieldReport:
    return await FieldSimulator(client, roster, **options).run()
