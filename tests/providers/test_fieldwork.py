"""The simulator's pure decisions, each on a tiny hand-made month."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest

from dispatch.geo import gcj02_to_wgs84, haversine_km
from providers.fieldwork import (
    CAREGIVER_GAP,
    DECLINE_REASONS,
    Habits,
    Intent,
    Job,
    Rota,
    client_visit_id,
    decide_offers,
    plan_visit,
    roster_for,
    visit_intents,
)
from providers.months import CHINA, month_bounds

HOME = (25.0211, 102.7410)
MARCH_OVER = datetime(2026, 4, 20, 12, tzinfo=CHINA)  # long after March 2026
HABITS = Habits()


def plan(job: Job, kind="proper", offline=False, *, month="2026-03", horizon=MARCH_OVER, rota=None, seed=1):
    return plan_visit(
        job,
        Intent(kind, offline),
        month=month,
        horizon=horizon,
        rota=rota or Rota(["李秀兰"]),
        habits=HABITS,
        seed=seed,
    )


def metres_from_home(fix: tuple[float, float]) -> float:
    return haversine_km(*HOME, *gcj02_to_wgs84(*fix)) * 1000


def test_offers_declined_in_the_stated_share_whatever_the_order():
    ids = list(range(100, 120))
    decisions = decide_offers(ids, Habits(decline_share=0.1), seed=5)
    declined = [d for d in decisions if not d.accept]
    assert len(declined) == 2 and all(d.reason in DECLINE_REASONS for d in declined)
    assert all(d.reason is None for d in decisions if d.accept)
    assert decide_offers(list(reversed(ids)), Habits(decline_share=0.1), seed=5) == decisions
    assert decide_offers([], HABITS, seed=5) == []


def test_intents_share_out_short_off_site_and_offline_visits():
    ids = list(range(1, 26))
    intents = visit_intents(ids, Habits(short_share=0.08, off_site_share=0.06, offline_share=0.2), seed=9)
    assert Counter(i.kind for i in intents.values()) == {"proper": 21, "short": 2, "off_site": 2}
    assert sum(i.offline for i in intents.values()) == 5
    assert visit_intents(ids, HABITS, seed=9) == visit_intents(ids, HABITS, seed=9)
    assert visit_intents(ids, HABITS, seed=9) != visit_intents(ids, HABITS, seed=10)


def test_a_proper_visit_lasts_an_hour_or_more_at_the_door():
    visit = plan(Job(7, "clean", HOME, planned_date=date(2026, 3, 12)))
    assert visit.check_in_at.astimezone(CHINA).date() == date(2026, 3, 12)
    assert timedelta(minutes=61) <= visit.check_out_at - visit.check_in_at <= timedelta(minutes=90)
    assert 5 <= metres_from_home(visit.check_in_fix) <= 60 and 5 <= metres_from_home(visit.check_out_fix) <= 60
    assert visit.intended_exceptions == [] and visit.caregiver == "李秀兰" and "clean" in visit.tasks
    assert visit.upload_at == visit.check_in_at and visit.client_visit_id == client_visit_id(7)


def test_short_off_site_and_offline_visits_are_what_they_say():
    short = plan(Job(8, "clean", HOME), "short")
    assert short.check_out_at - short.check_in_at < timedelta(minutes=55) and short.note
    assert short.intended_exceptions == ["short_duration"]
    off_site = plan(Job(9, "clean", HOME), "off_site")
    assert 900 <= metres_from_home(off_site.check_in_fix) <= 1200 and metres_from_home(off_site.check_out_fix) <= 60
    assert off_site.intended_exceptions == ["off_site"]
    offline = plan(Job(10, "clean", HOME), "proper", offline=True)
    assert offline.check_out_at < offline.upload_at <= offline.check_out_at + timedelta(hours=10)


def test_accelerated_month_keeps_every_visit_in_the_past():
    horizon = datetime(2026, 3, 10, 15, tzinfo=CHINA)  # mid-month "now"
    start, _ = month_bounds("2026-03")
    late = plan(Job(11, "clean", HOME, planned_date=date(2026, 3, 31)), horizon=horizon)
    early = plan(Job(12, "clean", HOME, planned_date=date(2026, 3, 2)), horizon=horizon)
    assert start <= early.check_in_at and late.check_out_at <= horizon
    assert early.check_in_at.date() == date(2026, 3, 2)
    assert late.check_in_at.astimezone(CHINA).date() >= date(2026, 3, 8)  # the month's end, pulled to its now
    offline = plan(Job(13, "clean", HOME, planned_date=date(2026, 3, 10)), offline=True, horizon=horizon)
    assert offline.upload_at <= horizon


def test_nothing_is_placed_before_the_month_has_had_time():
    just_begun = datetime(2026, 3, 1, 0, 40, tzinfo=CHINA)
    assert plan(Job(14, "clean", HOME), horizon=just_begun) is None


def test_an_urgent_window_is_kept_and_a_future_one_waits():
    window = (datetime(2026, 3, 5, 21, tzinfo=CHINA), datetime(2026, 3, 5, 23, tzinfo=CHINA))
    visit = plan(Job(15, "emergency", HOME, window=window))
    assert window[0] <= visit.check_in_at < window[1]
    horizon = datetime(2026, 3, 5, 20, tzinfo=CHINA)
    assert plan(Job(16, "emergency", HOME, window=window), horizon=horizon) is None


def test_the_rota_never_sends_a_caregiver_to_two_places_at_once():
    rota = Rota(roster_for(3, 3))
    visits = [plan(Job(n, "clean", HOME, planned_date=date(2026, 3, 1 + n % 5)), rota=rota) for n in range(60)]
    assert all(visits)
    by_caregiver = defaultdict(list)
    for visit in visits:
        by_caregiver[visit.caregiver].append((visit.check_in_at, visit.check_out_at))
    assert len(by_caregiver) == 3
    for spans in by_caregiver.values():
        spans.sort()
        assert all(end + CAREGIVER_GAP <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    days = Counter(v.check_in_at.astimezone(CHINA).date() for v in visits)
    assert max(days.values()) <= 12  # three caregivers, four slots each: the rest moved to nearby days


def test_an_already_named_caregiver_keeps_the_visit():
    rota = Rota(["李秀兰", "王建华"])
    visits = [
        plan(Job(n, "clean", HOME, planned_date=date(2026, 3, 3), caregiver="王建华"), rota=rota) for n in range(5)
    ]
    assert {v.caregiver for v in visits} == {"王建华"} and len({v.check_in_at.date() for v in visits}) == 2


def test_the_same_seed_plays_the_same_month():
    jobs = [Job(n, "clean", HOME) for n in range(10)]
    runs = [[plan(job, seed=seed, rota=Rota(["甲", "乙"])) for job in jobs] for seed in (4, 4, 5)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert len({client_visit_id(n) for n in range(1000)}) == 1000


def test_rosters_are_stable_names():
    assert roster_for(7, 8) == roster_for(7, 8) != roster_for(8, 8)
    assert len(set(roster_for(7, 100))) == 100
    with pytest.raises(ValueError):
        Rota([])
    assert random.Random("x").random() == random.Random("x").random()  # str seeds do not depend on PYTHONHASHSEED
