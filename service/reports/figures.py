"""A month's figures for an area, each from one aggregate query: no visit is ever loaded as an object.

Attribution follows the programme's calendar: a visit belongs to the Asia/Shanghai month its
check-in falls in (23:30 on the last day is still that month), a request to the month it was made
for (`service_request.month`). An elder belongs to an area by the area code of their home.
The visit-side queries read `visit` and `elder` only (the visit carries its elder): joining through
assignment and request would scan those tables' whole history for every month asked about.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, literal_column
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.catalogue import ELDER_CATEGORIES
from service.elders.models import Elder, ElderCategory
from service.entitlements.matching import CENTENARIAN, HIGH_AGE, aged_cutoff
from service.lifecycle.models import Assignment, ServiceRequest
from service.months import first_day
from service.reports.scope import ReportArea
from service.reports.sql import Job, count_if, minutes_between, percentiles
from service.visits.models import FollowUp, Visit

# The programme's standard: every visit at least 60 minutes (每次服务时长最低60分钟).
PROGRAMME_MINUTES = 60
ENTITLED = and_(Elder.status == "active", col(Elder.visits_per_month) > 0)
# Constants inlined, not bound: PostgreSQL matches GROUP BY to SELECT expressions only when equal.
STREET = func.substr(Elder.area_code, literal_column("1"), literal_column("9"))


def elders_in(area: ReportArea) -> Select:
    return select(Elder.id).where(area.covers(Elder.area_code))


def month_visits(area: ReportArea, start: datetime, end: datetime, *columns) -> Select:
    """SELECT columns FROM the visits to the area's elders checked in during [start, end)."""
    query = select(*columns).select_from(Visit).where(col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end)
    return query.where(col(Visit.elder_id).in_(elders_in(area))) if area.prefixes else query


def visit_requests(area: ReportArea, *columns, during: tuple[datetime, datetime] | None = None) -> Select:
    """SELECT columns FROM the area's visits (checked in `during`) with their request and elder, for
    what only the request knows (its service, its id) or for the few rows of a detailed listing."""
    query = (
        select(*columns)
        .select_from(Visit)
        .join(Assignment, col(Assignment.id) == Visit.assignment_id)
        .join(ServiceRequest, col(ServiceRequest.id) == Assignment.request_id)
        .join(Elder, col(Elder.id) == Visit.elder_id)
        .where(area.covers(Elder.area_code))
    )
    if during is not None:
        query = query.where(col(Visit.check_in_at) >= during[0], col(Visit.check_in_at) < during[1])
    return query


@dataclass
class ProviderFigures:
    provider_id: int
    visits: int = 0
    completed: int = 0
    verified: int = 0
    exceptions: int = 0
    timed: int = 0
    minutes: float = 0.0
    long_enough: int = 0
    follow_ups: int = 0
    satisfaction_sum: int = 0
    complaints: int = 0

    def add(self, other: ProviderFigures) -> None:
        for f in fields(self):
            if f.name != "provider_id":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class StreetFigures:
    entitled_elders: int = 0
    entitled_visits: int = 0
    served: int = 0


@dataclass
class MonthFigures:
    providers: list[ProviderFigures]
    exception_codes: Counter
    streets: dict[str, StreetFigures]
    median_minutes: float | None
    planned: int
    planned_completed: int
    missed: int
    ad_hoc_requests: int
    emergencies: int
    answered: int
    response_p50: float | None
    response_p90: float | None
    groups: dict[str, tuple[int, int]]  # category -> (elders, served)
    totals: ProviderFigures = field(init=False)

    def __post_init__(self) -> None:
        # Every visit has exactly one provider, so the provider groups add up to the area's totals.
        self.totals = ProviderFigures(provider_id=0)
        for provider in self.providers:
            self.totals.add(provider)


def complaint_given() -> ColumnElement:
    return and_(col(FollowUp.complaint).is_not(None), func.trim(FollowUp.complaint) != "")


async def provider_figures(
    session: AsyncSession, area: ReportArea, start: datetime, end: datetime
) -> tuple[list[ProviderFigures], Counter]:
    """Per provider, and the exception codes: grouped by provider, status and the codes' JSON text
    (a handful of distinct lists), so no json_each / jsonb_array_elements is needed."""
    codes_text = cast(Visit.exceptions, Text)
    query = month_visits(
        area,
        start,
        end,
        Visit.provider_id,
        Visit.status,
        codes_text,
        func.count(Visit.id),
        func.count(Visit.check_out_at),
        func.count(Visit.duration_minutes),
        func.coalesce(func.sum(Visit.duration_minutes), 0.0),
        count_if(col(Visit.duration_minutes) >= PROGRAMME_MINUTES),
        func.count(FollowUp.id),
        func.coalesce(func.sum(FollowUp.satisfaction), 0),
        count_if(complaint_given()),
    ).outerjoin(FollowUp, col(FollowUp.visit_id) == Visit.id)
    query = query.group_by(Visit.provider_id, Visit.status, codes_text)
    providers: dict[int, ProviderFigures] = {}
    codes: Counter = Counter()
    for pid, status, text, visits, done, timed, minutes, long_enough, calls, satisfied, complaints in (
        await session.exec(query)
    ).all():
        verified = visits if status == "verified" else 0
        failed = visits if status == "exception" else 0
        providers.setdefault(pid, ProviderFigures(pid)).add(
            ProviderFigures(
                pid,
                visits,
                done,
                verified,
                failed,
                timed,
                float(minutes),
                int(long_enough),
                calls,
                int(satisfied),
                int(complaints),
            )
        )
        if status == "exception":
            for code in set(json.loads(text) or []):
                codes[code] += visits
    return [providers[pid] for pid in sorted(providers)], codes


async def street_figures(
    session: AsyncSession, area: ReportArea, start: datetime, end: datetime
) -> dict[str, StreetFigures]:
    streets: dict[str, StreetFigures] = defaultdict(StreetFigures)
    entitled = (
        select(STREET, func.count(Elder.id), func.sum(Elder.visits_per_month))
        .where(ENTITLED, area.covers(Elder.area_code))
        .group_by(STREET)
    )
    for street, elders, visits in (await session.exec(entitled)).all():
        streets[street].entitled_elders, streets[street].entitled_visits = elders, int(visits or 0)
    verified = select(Visit.elder_id).where(
        Visit.status == "verified", col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end
    )
    served = (
        select(STREET, func.count(Elder.id))
        .where(ENTITLED, area.covers(Elder.area_code), col(Elder.id).in_(verified))
        .group_by(STREET)
    )
    for street, elders in (await session.exec(served)).all():
        streets[street].served = elders
    return dict(streets)


async def median_minutes(session: AsyncSession, area: ReportArea, start: datetime, end: datetime) -> float | None:
    timed = month_visits(area, start, end, Visit.duration_minutes).where(col(Visit.duration_minutes).is_not(None))
    return (await percentiles(session, timed, [0.5]))[0]


async def request_counts(session: AsyncSession, area: ReportArea, month: str) -> tuple[int, int, int, int]:
    """(planned requests of the month, of which completed, of which missed; ad-hoc requests)."""
    planned = ServiceRequest.kind == "planned"
    query = select(
        count_if(planned),
        count_if(and_(planned, ServiceRequest.status == "completed")),
        count_if(and_(planned, ServiceRequest.status == "missed")),
        count_if(ServiceRequest.kind == "ad_hoc"),
    ).where(ServiceRequest.month == month)
    if area.prefixes:
        query = query.where(col(ServiceRequest.elder_id).in_(elders_in(area)))
    return tuple(int(n) for n in (await session.exec(query)).one())


def first_check_ins(area: ReportArea, month: str):
    """Each emergency request of the month with its first check-in (NULL when nobody came)."""
    query = (
        select(
            ServiceRequest.id.label("request_id"),
            ServiceRequest.created_at.label("created_at"),
            func.min(Visit.check_in_at).label("first_in"),
        )
        .select_from(ServiceRequest)
        .outerjoin(Assignment, col(Assignment.request_id) == ServiceRequest.id)
        # A check-in dated before the call (stored before the check-in rule) answers nothing: a response
        # time is never negative.
        .outerjoin(
            Visit, and_(col(Visit.assignment_id) == Assignment.id, col(Visit.check_in_at) >= ServiceRequest.created_at)
        )
        .where(ServiceRequest.urgency == "emergency", ServiceRequest.month == month)
        .group_by(ServiceRequest.id, ServiceRequest.created_at)
    )
    if area.prefixes:
        query = query.where(col(ServiceRequest.elder_id).in_(elders_in(area)))
    return query.subquery()


async def emergency_response(
    session: AsyncSession, area: ReportArea, month: str
) -> tuple[int, int, float | None, float | None]:
    """(emergency requests, answered, p50 and p90 minutes from the call to the caregiver's check-in)."""
    answers = first_check_ins(area, month)
    requests, answered = (
        await session.exec(select(func.count(answers.c.request_id), func.count(answers.c.first_in)))
    ).one()
    minutes = minutes_between(session.bind.dialect.name, answers.c.first_in, answers.c.created_at)
    p50, p90 = await percentiles(session, select(minutes).where(answers.c.first_in.is_not(None)), [0.5, 0.9])
    return requests, answered, p50, p90


BIRTH = func.substr(Elder.id_number, literal_column("7"), literal_column("8"))  # YYYYMMDD (GB 11643)


async def category_figures(
    session: AsyncSession, area: ReportArea, month: str, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Category -> (active elders in it on the month's first day, elders in it served in the month): the age
    groups from the ID number's birth digits compared as text, the recorded categories grouped; two queries."""
    day = first_day(month)
    served = col(Elder.id).in_(
        select(Visit.elder_id).where(
            Visit.status == "verified", col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end
        )
    )
    active = Elder.status == "active"
    groups = {
        "aged_80": BIRTH <= aged_cutoff(HIGH_AGE, day),
        "aged_100": BIRTH <= aged_cutoff(CENTENARIAN, day),
        "living_alone": col(Elder.living_alone),
    }
    derived = select(
        *(
            f(and_(condition, counted))
            for condition in groups.values()
            for f, counted in ((count_if, active), (count_if, served))
        )
    ).where(area.covers(Elder.area_code))
    row = (await session.exec(derived)).one()
    figures = {name: (int(row[2 * i]), int(row[2 * i + 1])) for i, name in enumerate(groups)}
    recorded = (
        select(ElderCategory.category, count_if(active), count_if(served))
        .join(Elder, col(Elder.id) == ElderCategory.elder_id)
        .where(
            area.covers(Elder.area_code), col(ElderCategory.since) <= day, ElderCategory.category != "living_alone"
        )  # the flag counts it, recorded or not
        .group_by(ElderCategory.category)
    )
    for category, elders, served_elders in (await session.exec(recorded)).all():
        figures[category] = (int(elders), int(served_elders))
    return {c: figures.get(c, (0, 0)) for c in ELDER_CATEGORIES}


JOBS_PER_MONTH = 6


def month_jobs(area: ReportArea, month: str, start: datetime, end: datetime) -> list[Job]:
    """The month's independent queries, for `run_all`; `assemble` puts their answers together."""
    return [
        lambda s: provider_figures(s, area, start, end),
        lambda s: street_figures(s, area, start, end),
        lambda s: median_minutes(s, area, start, end),
        lambda s: request_counts(s, area, month),
        lambda s: emergency_response(s, area, month),
        lambda s: category_figures(s, area, month, start, end),
    ]


def assemble(answers: list) -> MonthFigures:
    (providers, codes), streets, median, requests, emergencies, groups = answers
    planned, planned_completed, missed, ad_hoc = requests
    asked, answered, p50, p90 = emergencies
    return MonthFigures(
        providers=providers,
        exception_codes=codes,
        streets=streets,
        median_minutes=median,
        planned=planned,
        planned_completed=planned_completed,
        missed=missed,
        ad_hoc_requests=ad_hoc,
        emergencies=asked,
        answered=answered,
        response_p50=p50,
        response_p90=p90,
        groups=groups,
    )
