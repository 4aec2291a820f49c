"""Dynamic entry and exit (行业动态进出机制): monthly scores, automatic suspension, reinstatement.

A provider scoring below the threshold for `quality_low_months` assessed months running is
suspended from dispatch (the dispatcher only uses active providers), with an audit event; an admin
can reinstate it. Assessing a month again recomputes its scores but never suspends twice for it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.complaints.service import provider_month_counts
from service.dispatching import faults
from service.errors import Conflict, NotFound
from service.lifecycle.models import ServiceRequest
from service.months import month_bounds, previous_month
from service.providers.models import Provider
from service.quality.models import ProviderQuality
from service.quality.scoring import ProviderMonth, low_run, quality_score
from service.reports.figures import provider_figures, visit_requests
from service.reports.scope import EVERYWHERE
from service.reports.sql import count_if, minutes_between
from service.settings import Settings
from service.validation import Body, Text
from service.visits.models import Visit

QUALITY_ACTOR = "system:quality"


class ReinstateBody(Body):
    reason: Text = Field(min_length=1, max_length=200)


async def emergency_on_time(session: AsyncSession, month: str, settings: Settings) -> dict[int, tuple[int, int]]:
    """Provider -> (emergencies it answered this month, of which within the target minutes)."""
    minutes = minutes_between(session.bind.dialect.name, Visit.check_in_at, ServiceRequest.created_at)
    answers = (
        visit_requests(EVERYWHERE, Visit.provider_id, minutes.label("minutes"))
        .where(
            ServiceRequest.urgency == "emergency",
            ServiceRequest.month == month,
            # a check-in dated before the call is no answer, never one "on time"
            col(Visit.check_in_at) >= ServiceRequest.created_at,
        )
        .subquery()
    )
    on_time = count_if(answers.c.minutes <= settings.emergency_target_minutes)
    counted = select(answers.c.provider_id, func.count(), on_time).group_by(answers.c.provider_id)
    rows = (await session.exec(counted)).all()
    return {pid: (int(answered), int(on_time)) for pid, answered, on_time in rows}


async def _suspend(
    session: AsyncSession, provider_id: int, month: str, scores: list[float], now: datetime, settings: Settings
) -> bool:
    result = await session.exec(
        update(Provider)
        .where(Provider.id == provider_id, Provider.status == "active")
        .values(status="suspended", updated_at=now)
        .returning(Provider.id)
    )
    if result.first() is None:
        return False  # already suspended by hand: nothing to do, nothing to record
    record_change(
        session,
        actor=QUALITY_ACTOR,
        action="provider.suspend",
        entity="provider",
        entity_id=provider_id,
        before={"status": "active"},
        after={
            "status": "suspended",
            "month": month,
            "scores": scores,
            "threshold": settings.quality_threshold,
            "low_months": settings.quality_low_months,
        },
        at=now,
    )
    return True


async def assess_month(
    session: AsyncSession, month: str, settings: Settings, *, now: datetime
) -> list[ProviderQuality]:
    start, end = month_bounds(month, settings.tz)
    if now < end:
        opens = end.astimezone(settings.tz).isoformat()
        raise Conflict(f"{month} is not over; it can be assessed from {opens}")
    answered = await emergency_on_time(session, month, settings)
    complaints = await provider_month_counts(session, start, end)
    before = {
        r.provider_id: r
        for r in (
            await session.exec(select(ProviderQuality).where(ProviderQuality.month == previous_month(month)))
        ).all()
    }
    existing = {
        r.provider_id: r
        for r in (await session.exec(select(ProviderQuality).where(ProviderQuality.month == month))).all()
    }
    assessed = []
    providers, _ = await provider_figures(session, EVERYWHERE, start, end)
    for f in providers:
        # Each provider in a savepoint: one that fails for its own sake is logged and recorded, the rest
        # are assessed (dispatching/faults.py).
        try:
            async with session.begin_nested():
                row = await _assess(
                    session,
                    f,
                    month,
                    answered,
                    before.get(f.provider_id),
                    existing.get(f.provider_id),
                    settings,
                    now,
                    complaints=complaints.get(f.provider_id, 0),
                )
        except Exception as exc:
            if not faults.row_fault(exc):
                raise
            faults.report("provider quality", "provider", f.provider_id, exc)
            record_change(
                session,
                actor=QUALITY_ACTOR,
                action="job.row_failed",
                entity="provider",
                entity_id=f.provider_id,
                after={"job": "provider quality", "month": month, "failure": faults.describe(exc)},
                at=now,
            )
            continue
        assessed.append(row)
    return assessed


async def _assess(
    session: AsyncSession,
    f,
    month: str,
    answered: dict,
    prior: ProviderQuality | None,
    row: ProviderQuality | None,
    settings: Settings,
    now: datetime,
    *,
    complaints: int = 0,
) -> ProviderQuality:
    figures = ProviderMonth(
        f.visits,
        f.verified,
        f.exceptions,
        f.follow_ups,
        f.satisfaction_sum,
        *answered.get(f.provider_id, (0, 0)),
        complaints=complaints,
    )
    score = quality_score(figures)
    below = score is not None and score < settings.quality_threshold
    row = row or ProviderQuality(provider_id=f.provider_id, month=month, visits=0)
    row.visits, row.score, row.below_threshold, row.assessed_at = f.visits, score, below, now
    row.verified_rate, row.exception_rate = figures.verified_rate, figures.exception_rate
    row.mean_satisfaction, row.emergency_on_time_rate = figures.mean_satisfaction, figures.on_time_rate
    row.complaints = complaints
    row.low_run = low_run(below, prior.low_run if prior else 0, prior.suspended if prior else False)
    if row.low_run >= settings.quality_low_months and not row.suspended:
        recent = [prior.score] if prior and settings.quality_low_months > 1 else []
        row.suspended = await _suspend(session, f.provider_id, month, [*recent, score], now, settings)
    session.add(row)
    return row


async def reinstate(session: AsyncSession, provider_id: int, reason: str, actor: str, now: datetime) -> Provider:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id} does not exist")
    result = await session.exec(
        update(Provider)
        .where(Provider.id == provider_id, Provider.status == "suspended")
        .values(status="active", updated_at=now)
        .returning(Provider.id)
    )
    if result.first() is None:
        raise Conflict(f"provider {provider_id} is not suspended")
    record_change(
        session,
        actor=actor,
        action="provider.reinstate",
        entity="provider",
        entity_id=provider_id,
        before={"status": "suspended"},
        after={"status": "active", "reason": reason},
        at=now,
    )
    return await session.get(Provider, provider_id, populate_existing=True)
