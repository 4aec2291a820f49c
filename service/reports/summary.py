"""The monthly supervision summary (监管月报): figures from SQL, assembled, compared, sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.calls.service import month_figures
from service.catalogue import ELDER_CATEGORIES
from service.complaints.service import month_counts as complaint_counts
from service.db import utcnow
from service.lifecycle.models import QuotaUsage
from service.months import month_bounds, previous_month
from service.providers.models import Provider
from service.reports.digest import sealed
from service.reports.figures import JOBS_PER_MONTH, MonthFigures, assemble, month_jobs
from service.reports.labels import HEADLINE, exception_label
from service.reports.late import find_closure, late_changes, refuse_closed_above
from service.reports.schemas import (
    Amendment,
    AreaRef,
    CategoryRow,
    Change,
    Closure,
    DurationFigures,
    ElderFigures,
    ElderGroupFigures,
    EmergencyFigures,
    ExceptionCount,
    ExceptionFigures,
    FollowUpFigures,
    MonthlySummary,
    ProviderRow,
    StreetRow,
    VisitFigures,
)
from service.reports.scope import ReportArea, require_begun, streets_of
from service.reports.sql import rate, rounded, run_all
from service.settings import Settings


def overall(figures: MonthFigures) -> dict[str, Any]:
    """The area-wide sections, from the per-provider and per-street groups the database returned."""
    t = figures.totals
    entitled = sum(s.entitled_elders for s in figures.streets.values())
    served = sum(s.served for s in figures.streets.values())
    by_code = sorted(figures.exception_codes.items(), key=lambda item: (-item[1], item[0]))
    return {
        "elders": ElderFigures(entitled=entitled, served=served, coverage_rate=rate(served, entitled)),
        "visits": VisitFigures(
            entitled=sum(s.entitled_visits for s in figures.streets.values()),
            planned=figures.planned,
            planned_completed=figures.planned_completed,
            completion_rate=rate(figures.planned_completed, figures.planned),
            completed=t.completed,
            verified=t.verified,
            verified_rate=rate(t.verified, t.completed),
            missed=figures.missed,
            ad_hoc_requests=figures.ad_hoc_requests,
        ),
        "exceptions": ExceptionFigures(
            total=t.exceptions,
            by_code=[ExceptionCount(code=code, label=exception_label(code), visits=n) for code, n in by_code],
        ),
        "duration": DurationFigures(
            timed_visits=t.timed,
            median_minutes=rounded(figures.median_minutes),
            mean_minutes=rounded(t.minutes / t.timed if t.timed else None),
            share_at_least_60=rate(t.long_enough, t.timed),
        ),
        "emergencies": EmergencyFigures(
            requests=figures.emergencies,
            answered=figures.answered,
            response_p50_minutes=rounded(figures.response_p50),
            response_p90_minutes=rounded(figures.response_p90),
        ),
        "follow_ups": FollowUpFigures(
            count=t.follow_ups, complaints=t.complaints, mean_satisfaction=rate(t.satisfaction_sum, t.follow_ups, 2)
        ),
        "elder_groups": ElderGroupFigures(
            aged_80_served=figures.groups["aged_80"][1],
            aged_100_served=figures.groups["aged_100"][1],
            living_alone_served=figures.groups["living_alone"][1],
            by_category=[
                CategoryRow(category=c, label=ELDER_CATEGORIES[c], elders=n, served=served)
                for c, (n, served) in figures.groups.items()
            ],
        ),
    }


async def provider_rows(session: AsyncSession, figures: MonthFigures, month: str) -> list[ProviderRow]:
    ids = [p.provider_id for p in figures.providers]
    if not ids:
        return []
    registry = {
        pid: (name, quota)
        for pid, name, quota in (
            await session.exec(
                select(Provider.id, Provider.name, Provider.monthly_quota).where(col(Provider.id).in_(ids))
            )
        ).all()
    }
    used = dict(
        (
            await session.exec(
                select(QuotaUsage.provider_id, QuotaUsage.used).where(
                    QuotaUsage.month == month, col(QuotaUsage.provider_id).in_(ids)
                )
            )
        ).all()
    )
    rows = []
    for p in figures.providers:
        name, quota = registry[p.provider_id]
        rows.append(
            ProviderRow(
                provider_id=p.provider_id,
                name=name,
                visits=p.visits,
                verified=p.verified,
                verified_rate=rate(p.verified, p.completed),
                exceptions=p.exceptions,
                quota=quota,
                quota_used=used.get(p.provider_id, 0),
                quota_use_rate=rate(used.get(p.provider_id, 0), quota),
                follow_ups=p.follow_ups,
                mean_satisfaction=rate(p.satisfaction_sum, p.follow_ups, 2),
            )
        )
    return rows


def street_rows(figures: MonthFigures, names: dict[str, str]) -> list[StreetRow]:
    codes = sorted(set(names) | set(figures.streets))
    rows = []
    for code in codes:
        s = figures.streets.get(code)
        entitled, served = (s.entitled_elders, s.served) if s else (0, 0)
        rows.append(
            StreetRow(
                code=code,
                name=names.get(code, code),
                entitled=entitled,
                served=served,
                coverage_rate=rate(served, entitled),
            )
        )
    # The equity view: the worst-served streets first; streets with nobody entitled last.
    return sorted(rows, key=lambda r: (r.coverage_rate is None, r.coverage_rate or 0.0, r.code))


def _figure(document: dict[str, Any], path: str) -> float | None:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def compare(current: dict[str, Any], previous: dict[str, Any]) -> list[Change]:
    changes = []
    for path, label, _ in HEADLINE:
        now, before = _figure(current, path), _figure(previous, path)
        delta = None if now is None or before is None else round(now - before, 4)
        changes.append(Change(figure=path, label=label, current=now, previous=before, delta=delta))
    return changes


def _sections_as_json(figures: MonthFigures) -> dict[str, Any]:
    return {name: section.model_dump(mode="json") for name, section in overall(figures).items()}


def amendments(changes) -> list[Amendment]:
    return [
        Amendment(
            month=c.month,
            kind=c.kind,
            visit_id=c.visit_id,
            provider_id=c.provider_id,
            status=c.status,
            exceptions=c.exceptions,
            satisfaction=c.satisfaction,
            recorded_at=c.recorded_at,
        )
        for c in changes
    ]


async def build_summary(
    session: AsyncSession,
    area: ReportArea,
    month: str,
    settings: Settings,
    *,
    now: datetime,
    closure: Closure | None = None,
) -> MonthlySummary:
    tz = settings.tz
    start, end = require_begun(month, tz, now)
    before = previous_month(month)
    signed_before = await find_closure(session, area.code, before)  # compared as signed, if it was
    jobs = [
        lambda s: streets_of(s, area),
        lambda s: late_changes(s, area, month, tz),
        *month_jobs(area, month, start, end),
    ]
    if signed_before is None:
        jobs += month_jobs(area, before, *month_bounds(before, tz))
    answers = await run_all(session, jobs)
    street_names, late = answers[:2]
    figures = assemble(answers[2 : 2 + JOBS_PER_MONTH])
    if signed_before is None:
        previous = _sections_as_json(assemble(answers[2 + JOBS_PER_MONTH :]))
    else:
        previous = signed_before.summary
    sections = overall(figures)
    summary = MonthlySummary(
        area=AreaRef(code=area.code, name=area.name),
        month=month,
        timezone=settings.timezone,
        generated_at=now.astimezone(tz),
        status="closed" if closure else "open",
        closure=closure,
        **sections,
        providers=await provider_rows(session, figures, month),
        streets=street_rows(figures, street_names),
        change=compare(_sections_as_json(figures), previous),
        amendments=amendments(late),
        calls=await month_figures(session, area, start, end, await complaint_counts(session, area, start, end)),
        sha256="",
    )
    return sealed(summary)


async def monthly_summary(
    session: AsyncSession, area: ReportArea, month: str, settings: Settings, now: datetime | None = None
) -> MonthlySummary:
    """A closed month's summary is the one that was signed; an open month's is computed now."""
    closure = await find_closure(session, area.code, month)
    if closure is not None:
        return MonthlySummary.model_validate(closure.summary)
    await refuse_closed_above(session, area.code, month)
    return await build_summary(session, area, month, settings, now=now or utcnow())
