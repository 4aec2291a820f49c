"""The field simulator's decisions: which offers to take, who goes when, where the phone says it is.

No I/O and no clock (the horizon is passed in), so every decision can be tested alone. Everything
random comes from `random.Random` seeded by the run's seed plus what is being decided, so the same
seed and the same assignments give the same month. Shares (declines, short and off-site visits,
offline phones) are exact counts over the assignments decided together, not coin flips, so even a
dozen assignments show "a few" of each.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from providers.geo import moved, wgs84_to_gcj02
from providers.months import CHINA, days_in, first_day, month_bounds

VisitKind = Literal["proper", "short", "off_site"]
# What the service's verification should find for each kind; anything else is a surprise.
INTENDED_EXCEPTIONS: dict[str, list[str]] = {"proper": [], "short": ["short_duration"], "off_site": ["off_site"]}

DECLINE_REASONS = ("人手不足，护理员已排满", "护理员请假", "超出本机构服务半径", "该时段无法上门")
VISIT_NOTES = ("老人精神状态良好", "已测量血压，正常", "协助整理房间", "陪老人聊天散步", "提醒按时服药")
SHORT_NOTES = ("老人临时外出就医，提前结束", "家属到访，老人要求提前结束")

# A caregiver's working day: visit starts, two in the morning and two in the afternoon, spaced so
# that a 90-minute visit plus a late start still leaves half an hour to cross the district.
SLOT_STARTS = (time(8, 30), time(10, 45), time(14, 0), time(16, 15))
SLOT_LATE_MINUTES = 10
# Between one visit's end and the same caregiver's next start; the service flags faster than
# 40 km/h between homes as impossible travel, and 30 minutes covers 20 km.
CAREGIVER_GAP = timedelta(minutes=30)
# A window this short is an urgent call, answered at any hour; a longer one is worked in day slots.
SHORT_WINDOW = timedelta(hours=12)
LONGEST_VISIT = timedelta(minutes=90)  # a proper visit lasts 61-90 minutes, a short one 25-52
_VISIT_IDS = uuid.UUID("7f1d3c52-9a4e-4b8e-8a0c-2f6d1e0b5a17")


@dataclass(frozen=True)
class Habits:
    """How one provider's field staff behave over a month."""

    decline_share: float = 0.1
    short_share: float = 0.08
    off_site_share: float = 0.06
    offline_share: float = 0.2
    gps_noise_m: tuple[float, float] = (5.0, 60.0)
    off_site_m: tuple[float, float] = (900.0, 1200.0)
    offline_hours: tuple[float, float] = (0.5, 10.0)


@dataclass(frozen=True)
class OfferDecision:
    assignment_id: int
    accept: bool
    reason: str | None = None


@dataclass(frozen=True)
class Intent:
    kind: VisitKind
    offline: bool


@dataclass(frozen=True)
class Job:
    """An accepted assignment waiting for its visit."""

    assignment_id: int
    service: str
    home: tuple[float, float]  # WGS-84, as the service stores it
    planned_date: date | None = None
    window: tuple[datetime, datetime] | None = None
    caregiver: str | None = None  # already named when it was accepted earlier


@dataclass(frozen=True)
class PlannedVisit:
    assignment_id: int
    client_visit_id: uuid.UUID
    caregiver: str
    kind: VisitKind
    offline: bool
    check_in_at: datetime
    check_out_at: datetime
    check_in_fix: tuple[float, float]  # GCJ-02, as the phone reports it
    check_out_fix: tuple[float, float]
    tasks: tuple[str, ...]
    note: str | None
    upload_at: datetime  # when the phone gets the visit to the service

    @property
    def intended_exceptions(self) -> list[str]:
        return INTENDED_EXCEPTIONS[self.kind]


def share_count(total: int, share: float) -> int:
    return int(total * share + 0.5)


def client_visit_id(assignment_id: int) -> uuid.UUID:
    """Derived, not random, so a second run for the same assignment can never make a second visit."""
    return uuid.uuid5(_VISIT_IDS, f"assignment:{assignment_id}")


def decide_offers(offer_ids: Sequence[int], habits: Habits, seed: int) -> list[OfferDecision]:
    ids = sorted(offer_ids)
    rng = random.Random(f"{seed}:offers")
    declined = set(rng.sample(range(len(ids)), share_count(len(ids), habits.decline_share)))
    return [
        OfferDecision(i, False, rng.choice(DECLINE_REASONS)) if n in declined else OfferDecision(i, True)
        for n, i in enumerate(ids)
    ]


def visit_intents(assignment_ids: Sequence[int], habits: Habits, seed: int) -> dict[int, Intent]:
    ids = sorted(assignment_ids)
    rng = random.Random(f"{seed}:intents")
    order = rng.sample(range(len(ids)), len(ids))
    shorts = share_count(len(ids), habits.short_share)
    off_sites = share_count(len(ids), habits.off_site_share)
    kinds = {
        n: "short" if rank < shorts else "off_site" if rank < shorts + off_sites else "proper"
        for rank, n in enumerate(order)
    }
    offline = set(rng.sample(range(len(ids)), share_count(len(ids), habits.offline_share)))
    return {i: Intent(kinds[n], n in offline) for n, i in enumerate(ids)}


def roster_for(provider_id: int, size: int) -> list[str]:
    surnames = "李王张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
    given = ("秀兰", "桂英", "建华", "丽华", "志强", "海燕", "玉梅", "红梅", "国庆", "春花", "晓燕", "永红")
    names = [s + g for s in surnames for g in given]
    return random.Random(f"roster:{provider_id}").sample(names, min(size, len(names)))


class Rota:
    """Who is busy when: no caregiver gets two visits closer than CAREGIVER_GAP."""

    def __init__(self, roster: Sequence[str]) -> None:
        if not roster:
            raise ValueError("a rota needs at least one caregiver")
        self.roster = list(roster)
        self._busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)

    def is_free(self, caregiver: str, start: datetime, end: datetime) -> bool:
        return all(end + CAREGIVER_GAP <= s or e + CAREGIVER_GAP <= start for s, e in self._busy[caregiver])

    def book(self, caregiver: str, start: datetime, end: datetime) -> None:
        self._busy[caregiver].append((start, end))

    def visits_on(self, caregiver: str, day: date) -> int:
        return sum(1 for s, _ in self._busy[caregiver] if s.astimezone(CHINA).date() == day)

    def candidates(self, day: date, offset: int) -> list[str]:
        """The least busy first, then in roster order from `offset`, so work spreads over the team."""
        n = len(self.roster)
        return sorted(self.roster, key=lambda c: (self.visits_on(c, day), (self.roster.index(c) - offset) % n))


def preferred_day(planned: date | None, days: Sequence[date], month: str, rng: random.Random) -> date:
    """The planned day if it has come; a planned day still ahead is pulled into the days that have
    passed in proportion, so an accelerated month keeps its shape; no plan: any passed day."""
    if planned is None:
        return rng.choice(days)
    if planned in days:
        return planned
    if planned > days[-1]:
        return days[(planned - first_day(month)).days * len(days) // days_in(month)]
    return days[0]


def _starts(job: Job, month: str, earliest: datetime, latest: datetime, rng: random.Random) -> Iterator[datetime]:
    if job.window is not None and job.window[1] - job.window[0] <= SHORT_WINDOW:
        # An urgent visit goes as soon as it can in the asked window, whatever the hour.
        start = earliest + timedelta(minutes=rng.randint(10, 30))
        while start <= latest:
            yield start
            start += timedelta(minutes=20)
        return
    first, last = earliest.astimezone(CHINA).date(), latest.astimezone(CHINA).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if not days:
        return
    liked = preferred_day(job.planned_date, days, month, rng)
    for day in sorted(days, key=lambda d: (abs((d - liked).days), d)):
        for slot in SLOT_STARTS:
            yield datetime.combine(day, slot, tzinfo=CHINA) + timedelta(minutes=rng.randint(0, SLOT_LATE_MINUTES))


def _fix(home: tuple[float, float], metres: tuple[float, float], rng: random.Random) -> tuple[float, float]:
    lat, lon = moved(*home, rng.uniform(*metres), rng.uniform(0, 360))
    return wgs84_to_gcj02(lat, lon)


def plan_visit(
    job: Job, intent: Intent, *, month: str, horizon: datetime, rota: Rota, habits: Habits, seed: int
) -> PlannedVisit | None:
    """Place the visit at a past time of the month (check-out no later than `horizon`) with a free
    caregiver, and book it on the rota; None when no time has come yet (postponed to a later run)."""
    rng = random.Random(f"{seed}:visit:{job.assignment_id}")
    minutes = rng.uniform(25, 52) if intent.kind == "short" else rng.uniform(61, LONGEST_VISIT.total_seconds() / 60)
    duration = timedelta(seconds=round(minutes * 60))
    month_start, month_end = month_bounds(month)
    earliest = max(month_start, job.window[0]) if job.window else month_start
    latest = min(horizon, month_end) - duration
    if job.window:
        latest = min(latest, job.window[1] - timedelta(minutes=1))  # the start must fall inside the window
    for start in _starts(job, month, earliest, latest, rng):
        if not earliest <= start <= latest:
            continue
        day = start.astimezone(CHINA).date()
        caregivers = [job.caregiver] if job.caregiver else rota.candidates(day, job.assignment_id)
        caregiver = next((c for c in caregivers if rota.is_free(c, start, start + duration)), None)
        if caregiver is not None:
            break
    else:
        return None
    end = start + duration
    rota.book(caregiver, start, end)
    check_in_fix = _fix(job.home, habits.off_site_m if intent.kind == "off_site" else habits.gps_noise_m, rng)
    check_out_fix = _fix(job.home, habits.gps_noise_m, rng)
    tasks = (job.service,) if job.service == "companionship" or rng.random() < 0.6 else (job.service, "companionship")
    note = rng.choice(VISIT_NOTES) if rng.random() < 0.3 else None
    if intent.kind == "short":  # a caregiver who leaves early writes down why
        note = rng.choice(SHORT_NOTES)
    upload_at = start
    if intent.offline:  # the phone keeps the visit until it finds a network again
        upload_at = min(end + timedelta(hours=rng.uniform(*habits.offline_hours)), max(horizon, end))
    return PlannedVisit(
        job.assignment_id,
        client_visit_id(job.assignment_id),
        caregiver,
        intent.kind,
        intent.offline,
        start,
        end,
        check_in_fix,
        check_out_fix,
        tasks,
        note,
        upload_at,
    )
