"""The monthly plan: planned requests for every entitled elder, assigned in one optimal batch.

Running it twice for a month duplicates nothing: requests are keyed by (elder, month, seq) in the
database, and only elders whose planned requests are all still open and never tried take part.
The dispatch tick leaves such never-tried planned requests alone, so the batch, not the
nearest-first tick, decides them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, timedelta

import anyio
from sqlalchemy import func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.days import DayRules, ProviderCalendar, VisitNeed, place_visits
from dispatch.formats import instance_from_dict
from dispatch.monthly import plan_month
from service.audit.models import AuditEvent
from service.audit.service import audit_row
from service.db import utcnow
from service.dispatching import offers, quota
from service.dispatching.models import DispatchPlan
from service.dispatching.world import eligible_providers, provider_dicts
from service.elders.models import Elder
from service.months import days_of, first_day
from service.providers.models import Caregiver
from service.requests.models import ServiceRequest
from service.settings import Settings

# A plan left "running" this long was killed with its process; another run may take over.
ABANDONED_AFTER = timedelta(minutes=30)
CHUNK = 5000


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def claim_plan(sessions: async_sessionmaker, month: str) -> bool:
    """Mark the month's plan as running; False if another run holds it."""
    async with sessions() as session:
        existing = await session.get(DispatchPlan, month)
        if existing is None:
            session.add(DispatchPlan(month=month))
            try:
                await session.commit()
                return True
            except IntegrityError:
                return False
        stale = utcnow() - ABANDONED_AFTER
        result = await session.exec(
            update(DispatchPlan)
            .where(DispatchPlan.month == month,
                   (DispatchPlan.state != "running") | (col(DispatchPlan.started_at) < stale))
            .values(state="running", started_at=utcnow(), finished_at=None, error=None)
            .returning(DispatchPlan.month))
        claimed = result.first() is not None
        await session.commit()
        return claimed


async def create_planned_requests(session: AsyncSession, month: str, actor: str) -> int:
    """One request per entitled visit; the unique (elder, month, seq) makes this safe to repeat."""
    elders = (await session.exec(select(Elder.id, Elder.visits_per_month, Elder.services).where(
        Elder.status == "active", Elder.visits_per_month > 0))).all()
    now = utcnow()
    # A planned visit serves all the elder's needs; its request names the first (main) one.
    rows = [{"elder_id": elder_id, "service": services[0], "urgency": "routine", "kind": "planned",
             "channel": "plan", "status": "open", "month": month, "seq": seq, "attempts": 0, "created_by": actor,
             "created_at": now, "updated_at": now}
            for elder_id, visits, services in elders for seq in range(1, visits + 1)]
    insert_for = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for chunk in _chunks(rows):
        await session.exec(insert_for(ServiceRequest).values(chunk).on_conflict_do_nothing())
    await session.commit()
    return len(rows)


async def _plannable(session: AsyncSession, month: str) -> dict[int, list[int]]:
    """Elder id -> its planned request ids, for elders whose planned requests are all untouched."""
    rows = (await session.exec(select(ServiceRequest.id, ServiceRequest.elder_id, ServiceRequest.status,
                                      ServiceRequest.attempts).where(
        ServiceRequest.month == month, ServiceRequest.kind == "planned"))).all()
    requests: dict[int, list[int]] = defaultdict(list)
    touched: set[int] = set()
    for request_id, elder_id, status, attempts in rows:
        requests[elder_id].append(request_id)
        if status != "open" or attempts > 0:
            touched.add(elder_id)
    return {e: sorted(ids) for e, ids in requests.items() if e not in touched}


async def _elder_dicts(session: AsyncSession, elder_ids: list[int]) -> tuple[list[dict], dict[str, frozenset]]:
    """The elders in the engine's format, and each one's preferred weekdays."""
    elders, weekdays = [], {}
    for chunk in _chunks(elder_ids):
        rows = (await session.exec(select(Elder).where(col(Elder.id).in_(chunk)))).all()
        elders.extend({"id": str(e.id), "lat": e.lat, "lon": e.lon, "area": e.area_code,
                       "visits": e.visits_per_month, "services": e.services,
                       "previous_provider": str(e.last_provider_id) if e.last_provider_id else None} for e in rows)
        weekdays.update((str(e.id), frozenset(e.preferred_weekdays)) for e in rows if e.preferred_weekdays)
    return elders, weekdays


async def _caregiver_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.exec(select(Caregiver.provider_id, func.count()).where(Caregiver.active)
                              .group_by(Caregiver.provider_id))
    return dict(rows.all())


def _solve(document: dict, weekdays: dict[str, frozenset], calendars: dict[str, ProviderCalendar],
           days: list[date], rules: DayRules):
    """The CPU-heavy part, run off the event loop: the optimal batch, then its visits on days."""
    plan = plan_month(instance_from_dict(document))
    needs = [VisitNeed(a.elder, a.provider, a.visits, weekdays.get(a.elder, frozenset())) for a in plan.assignments]
    return plan, place_visits(days, needs, calendars, rules)


def _merged(first: dict | None, latest: dict | None) -> dict | None:
    """The month's first full run stays the summary; later runs (elders added since, re-runs) are
    listed under it, so a re-run that finds nothing new never hides what the month's plan was."""
    if not first or latest is None:
        return latest or first
    return {**first, "later_runs": [*first.get("later_runs", []), latest]}


async def run_plan(sessions: async_sessionmaker, settings: Settings, month: str, *, actor: str) -> DispatchPlan | None:
    """Build and assign the month's plan; None when another run of the same month is under way."""
    if not await claim_plan(sessions, month):
        return None
    try:
        summary = await _plan(sessions, settings, month, actor)
        state, error = "done", None
    except Exception as exc:
        summary, state, error = None, "failed", f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        async with sessions() as session:
            plan = await session.get(DispatchPlan, month)
            plan.state, plan.error, plan.finished_at = state, error, utcnow()
            plan.summary = _merged(plan.summary, summary)
            session.add(plan)
            await session.commit()
    return plan


async def _plan(sessions: async_sessionmaker, settings: Settings, month: str, actor: str) -> dict:
    async with sessions() as session:
        planned = await create_planned_requests(session, month, actor)
        plannable = await _plannable(session, month)
        providers = await eligible_providers(session, first_day(month))
        used = await quota.used_by_provider(session, month)
        elders, weekdays = await _elder_dicts(session, list(plannable))
        caregivers = await _caregiver_counts(session)
        await session.commit()
    calendars = {str(p.id): ProviderCalendar(caregivers.get(p.id, settings.default_caregivers), p.contract_start,
                                             p.contract_end) for p in providers}
    rules = DayRules(visit_minutes=settings.visit_minutes, travel_minutes=settings.travel_minutes,
                     working_minutes=settings.working_minutes)
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
    days = {(int(v.elder), v.sequence): v.day for v in schedule.placed}

    async with sessions() as session:
        offered = await _offer_plan(session, settings, month, plan, plannable, days, actor)
        unassigned = await _mark_unassignable(session, plan, plannable, actor)
        await session.commit()
    return {
        "month": month,
        "planned_requests": planned,
        "elders_planned": len(plannable),
        "visits_offered": offered,
        "visits_assigned": plan.visits_assigned,
        "total_km": round(float(sum(a.visits * a.km for a in plan.assignments)), 3),
        "cost": round(plan.cost, 3),
        "unassigned": [{"elder_id": int(u.elder), "visits": u.visits, "reason": u.reason} for u in plan.unassigned],
        "unassigned_count": len(unassigned),
        "shortfall_by_area": [{"street": s.street, "visits_lacking": s.visits_lacking,
                               "elders_unassigned": s.elders_unassigned,
                               "no_eligible_provider": s.no_eligible_provider} for s in plan.shortfall],
        "quality": None if plan.quality is None else {
            "visits_upper_bound": plan.quality.visits_upper_bound,
            "cost_lower_bound": round(plan.quality.cost_lower_bound, 3),
            "cost_gap": plan.quality.cost_gap},
        "visits_placed_on_days": len(schedule.placed),
        "visits_unplaced": [{"elder_id": int(v.elder), "provider_id": int(v.provider), "sequence": v.sequence,
                             "reason": v.reason} for v in schedule.unplaced],
        "solve_seconds": round(solve_seconds, 3),
    }


async def _offer_plan(session: AsyncSession, settings: Settings, month: str, plan, plannable: dict[int, list[int]],
                      days: dict[tuple[int, int], date], actor: str) -> int:
    explanations = {e.elder: e for e in plan.explanations}
    wanted, continuity = [], []
    for a in plan.assignments:
        why, provider_id = explanations[a.elder], int(a.provider)
        explanation = {"kind": "monthly_plan", "provider_id": provider_id, "km": round(a.km, 3),
                       "runner_up_provider_id": int(why.runner_up) if why.runner_up else None,
                       "runner_up_extra_km": None if why.runner_up_extra_km is None
                       else round(why.runner_up_extra_km, 3),
                       "continuity": why.continuity, "kept_by_continuity": why.kept_by_continuity}
        continuity.append({"id": int(a.elder), "last_provider_id": provider_id})
        wanted += [offers.Offer(request_id, provider_id, month, "routine", round(a.km, 3), explanation,
                                days.get((int(a.elder), sequence)))
                   for sequence, request_id in enumerate(plannable[int(a.elder)], start=1)]
    # A provider whose quota the tick used meanwhile gets none of its share: those requests stay open for the tick.
    offered = await offers.offer_many(session, wanted, actor=actor, now=utcnow(), settings=settings)
    for chunk in _chunks([e for e in continuity if (month, e["last_provider_id"]) not in offered.full]):
        await session.exec(update(Elder), params=chunk)
    return len(offered.assignments)


async def _mark_unassignable(session: AsyncSession, plan, plannable: dict[int, list[int]], actor: str) -> list:
    now = utcnow()
    reasons = {request_id: u.reason for u in plan.unassigned for request_id in plannable[int(u.elder)]}
    moved = await offers.claim_open(session, list(reasons), to="unassignable", now=now)
    await offers.set_reasons(session, {r: {"kind": "monthly_plan", "reason": reasons[r]} for r in moved})
    events = [audit_row(actor=actor, action="request.status", entity="service_request", entity_id=r, at=now,
                        after={"status": "unassignable", "attempts": attempts, "reason": reasons[r]})
              for r, attempts in moved.items()]
    for chunk in _chunks(events):
        await session.exec(insert(AuditEvent), params=chunk)
    return plan.unassigned
