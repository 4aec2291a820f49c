"""The monthly plan: planned requests for every entitled elder, assigned in one optimal batch.

Running it twice for a month duplicates nothing: requests are keyed by (elder, month, seq) in the
database, and only elders whose planned requests are all still open and never tried take part.
The dispatch tick leaves such never-tried planned requests alone, so the batch, not the
nearest-first tick, decides them. One elder's bad data never fails the plan (plan_rows.py).

A plan offers its visits to the providers' apps at once, so it is made for the current month or the
next (local time) only; an admin may force a past month (a catch-up after an outage), audited.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.days import DayRules, ProviderCalendar, VisitNeed, place_visits
from dispatch.formats import instance_from_dict
from dispatch.monthly import plan_month
from service.audit.service import record_change
from service.db import utcnow
from service.dispatching import faults
from service.dispatching.models import DispatchPlan
from service.dispatching.plan_rows import (
    ElderPlan,
    create_planned_requests,
    elder_dicts,
    set_aside,
    write_plan,
)
from service.dispatching.world import eligible_providers, provider_dicts
from service.errors import Invalid
from service.lifecycle import quota
from service.lifecycle.models import ServiceRequest
from service.months import days_of, first_day, month_of, next_month
from service.providers.models import Caregiver
from service.settings import Settings
from service.transactions import unit

# A plan left "running" this long was killed with its process; another run may take over.
ABANDONED_AFTER = timedelta(minutes=30)
log = logging.getLogger("homecare.plans")
STOPPED = "The plan stopped before it finished"
AGAIN = "Running it again is safe: it goes on with the elders not yet planned."


def operator_error(stored: str | None) -> str | None:
    """A failed plan's error as operators see it: what this code stores, or for a record written before
    (it held the exception's text, SQL included) the same plain words without a reference."""
    if stored is None or stored.startswith(STOPPED):
        return stored
    return f"{STOPPED}. {AGAIN}"


def check_plannable(
    month: str, *, now: datetime, tz: ZoneInfo, force: bool = False, how_to_force: str = "force: true"
) -> bool:
    """422 naming `month` unless it is the current or the next month, or a past one forced; True when it
    is a forced past month (to be audited)."""
    current = month_of(now, tz)
    upcoming = next_month(current)
    if month in (current, upcoming):
        return False
    if month < current and force:
        return True
    reason = f"plans are made for the current month ({current}) or the next ({upcoming})"
    raise Invalid.field(
        "month", reason + (f"; an admin may force a past month with {how_to_force}" if month < current else "")
    )


async def claim_plan(sessions: async_sessionmaker, month: str, *, forced_by: str | None = None) -> DispatchPlan | None:
    """Mark the month's plan as running: its record; None if another run holds it. `forced_by`: the admin
    who forced a past month, audited with the claim."""
    try:
        async with unit(sessions) as session:
            existing = await session.get(DispatchPlan, month)
            if existing is None:
                plan = DispatchPlan(month=month)
                session.add(plan)
                _audit_forced(session, month, forced_by)
                return plan
            stale = utcnow() - ABANDONED_AFTER
            result = await session.exec(
                update(DispatchPlan)
                .where(
                    DispatchPlan.month == month,
                    (DispatchPlan.state != "running") | (col(DispatchPlan.started_at) < stale),
                )
                .values(state="running", started_at=utcnow(), finished_at=None, error=None)
                .returning(DispatchPlan.month)
            )
            if result.first() is None:
                return None
            _audit_forced(session, month, forced_by)
            return await session.get(DispatchPlan, month, populate_existing=True)
    except IntegrityError:  # a twin run created the month's record first
        return None


def _audit_forced(session: AsyncSession, month: str, forced_by: str | None) -> None:
    if forced_by is not None:
        record_change(
            session,
            actor=forced_by,
            action="plan.forced",
            entity="dispatch_plan",
            entity_id=month,
            after={"month": month, "force": True},
        )


def _merged(first: dict | None, latest: dict | None) -> dict | None:
    """The month's first full run stays the summary; later runs (elders added since, re-runs) are
    listed under it, so a re-run that finds nothing new never hides what the month's plan was."""
    if not first or latest is None:
        return latest or first
    return {**first, "later_runs": [*first.get("later_runs", []), latest]}


async def run_plan(
    sessions: async_sessionmaker, settings: Settings, month: str, *, actor: str, forced_by: str | None = None
) -> DispatchPlan | None:
    """Build and assign the month's plan: its record (state done or failed); None when another run of the
    same month is under way."""
    if await claim_plan(sessions, month, forced_by=forced_by) is None:
        return None
    return await run_claimed(sessions, settings, month, actor=actor)


async def run_claimed(sessions: async_sessionmaker, settings: Settings, month: str, *, actor: str) -> DispatchPlan:
    """Run a plan already claimed. A failure is recorded on the plan for operators in plain words, with
    a reference to the log line that has the detail (never SQL, never a row's data)."""
    try:
        summary = await _plan(sessions, settings, month, actor)
        state, error = "done", None
    except Exception as exc:
        reference = uuid.uuid4().hex[:8]
        log.error("monthly plan %s failed (reference %s): %s", month, reference, faults.describe(exc))
        log.debug("monthly plan failure", exc_info=True)
        summary, state = None, "failed"
        error = f"{STOPPED} (reference {reference} in the service log). {AGAIN}"
    async with unit(sessions) as session:
        plan = await session.get(DispatchPlan, month)
        plan.state, plan.error, plan.finished_at = state, error, utcnow()
        plan.summary = _merged(plan.summary, summary)
        session.add(plan)
    return plan


async def _plannable(session: AsyncSession, month: str) -> dict[int, list[int]]:
    """Elder id -> its planned request ids, for elders whose planned requests are all untouched."""
    rows = (
        await session.exec(
            select(ServiceRequest.id, ServiceRequest.elder_id, ServiceRequest.status, ServiceRequest.attempts).where(
                ServiceRequest.month == month, ServiceRequest.kind == "planned"
            )
        )
    ).all()
    requests: dict[int, list[int]] = defaultdict(list)
    touched: set[int] = set()
    for request_id, elder_id, status, attempts in rows:
        requests[elder_id].append(request_id)
        if status != "open" or attempts > 0:
            touched.add(elder_id)
    return {e: sorted(ids) for e, ids in requests.items() if e not in touched}


async def _caregiver_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.exec(
        select(Caregiver.provider_id, func.count()).where(Caregiver.active).group_by(Caregiver.provider_id)
    )
    return dict(rows.all())


def _solve(
    document: dict,
    weekdays: dict[str, frozenset],
    calendars: dict[str, ProviderCalendar],
    days: list[date],
    rules: DayRules,
):
    """The CPU-heavy part, run off the event loop: the optimal batch, then its visits on days."""
    plan = plan_month(instance_from_dict(document))
    needs = [VisitNeed(a.elder, a.provider, a.visits, weekdays.get(a.elder, frozenset())) for a in plan.assignments]
    return plan, place_visits(days, needs, calendars, rules)


async def _plan(sessions: async_sessionmaker, settings: Settings, month: str, actor: str) -> dict:
    timings = {}
    started = time.perf_counter()
    planned, left_out = await create_planned_requests(sessions, month, actor)
    async with sessions() as session:
        plannable = await _plannable(session, month)
        providers = await eligible_providers(session, first_day(month))
        used = await quota.used_by_provider(session, month)
        elders, weekdays, unusable = await elder_dicts(session, list(plannable))
        caregivers = await _caregiver_counts(session)
    timings["read_seconds"] = time.perf_counter() - started
    calendars = {
        str(p.id): ProviderCalendar(caregivers.get(p.id, settings.default_caregivers), p.contract_start, p.contract_end)
        for p in providers
    }
    rules = DayRules(
        visit_minutes=settings.visit_minutes,
        travel_minutes=settings.travel_minutes,
        working_minutes=settings.working_minutes,
    )
    document = {
        "month": month,
        "policy": {"max_km": settings.max_km, "continuity_bonus_km": settings.continuity_bonus_km},
        "elders": elders,
        "providers": provider_dicts(providers, used),
    }
    started = time.perf_counter()
    # A plan run mid-month (on demand) places visits from today on, never in the past.
    today = utcnow().astimezone(settings.tz).date()
    days = [d for d in days_of(month) if d >= today]
    plan, schedule = await anyio.to_thread.run_sync(_solve, document, weekdays, calendars, days, rules)
    solve_seconds = time.perf_counter() - started
    placed = {(int(v.elder), v.sequence): v.day for v in schedule.placed}

    started = time.perf_counter()
    decided = _decisions(plan, plannable, placed, unusable)
    offered, refused = await write_plan(sessions, settings, month, decided, actor)
    if refused:
        await set_aside(sessions, plannable, refused, actor)
    timings["write_seconds"] = time.perf_counter() - started
    set_apart = sorted(dict([*left_out, *unusable, *refused]).items())
    for elder_id, exc in set_apart:
        faults.report("monthly plan", "elder", elder_id, exc)
    return {
        "month": month,
        "planned_requests": planned,
        "elders_planned": len(plannable),
        "visits_offered": offered,
        "visits_assigned": plan.visits_assigned,
        "total_km": round(float(sum(a.visits * a.km for a in plan.assignments)), 3),
        "cost": round(plan.cost, 3),
        "unassigned": [{"elder_id": int(u.elder), "visits": u.visits, "reason": u.reason} for u in plan.unassigned],
        "unassigned_count": len(plan.unassigned),
        "elders_set_aside": [
            {"elder_id": elder_id, "reason": faults.error_explanation(exc)["reason"]} for elder_id, exc in set_apart
        ],
        "shortfall_by_area": [
            {
                "street": s.street,
                "visits_lacking": s.visits_lacking,
                "elders_unassigned": s.elders_unassigned,
                "no_eligible_provider": s.no_eligible_provider,
            }
            for s in plan.shortfall
        ],
        "quality": None
        if plan.quality is None
        else {
            "visits_upper_bound": plan.quality.visits_upper_bound,
            "cost_lower_bound": round(plan.quality.cost_lower_bound, 3),
            "cost_gap": plan.quality.cost_gap,
        },
        "visits_placed_on_days": len(schedule.placed),
        "visits_unplaced": [
            {"elder_id": int(v.elder), "provider_id": int(v.provider), "sequence": v.sequence, "reason": v.reason}
            for v in schedule.unplaced
        ],
        "solve_seconds": round(solve_seconds, 3),
        **{name: round(seconds, 3) for name, seconds in timings.items()},
    }


def _decisions(
    plan,
    plannable: dict[int, list[int]],
    placed: dict[tuple[int, int], date],
    unusable: list[tuple[int, BaseException]],
) -> list[tuple[int, ElderPlan]]:
    """Each planned elder's outcome: offered to a provider, unassignable (nobody may take it), or set aside."""
    explanations = {e.elder: e for e in plan.explanations}
    decided = []
    for a in plan.assignments:
        why, provider_id, elder_id = explanations[a.elder], int(a.provider), int(a.elder)
        explanation = {
            "kind": "monthly_plan",
            "provider_id": provider_id,
            "km": round(a.km, 3),
            "runner_up_provider_id": int(why.runner_up) if why.runner_up else None,
            "runner_up_extra_km": None if why.runner_up_extra_km is None else round(why.runner_up_extra_km, 3),
            "continuity": why.continuity,
            "kept_by_continuity": why.kept_by_continuity,
        }
        requests = plannable[elder_id]
        decided.append(
            (
                elder_id,
                ElderPlan(
                    requests,
                    provider_id,
                    round(a.km, 3),
                    explanation,
                    [placed.get((elder_id, seq)) for seq in range(1, len(requests) + 1)],
                ),
            )
        )
    decided += [(int(u.elder), ElderPlan(plannable[int(u.elder)], unassigned=u.reason)) for u in plan.unassigned]
    decided += [(elder_id, ElderPlan(plannable[elder_id], failure=exc)) for elder_id, exc in unusable]
    return decided
