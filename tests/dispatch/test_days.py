"""Visit days: gap, capacity, contract window, preferred weekdays, unplaceable visits reported."""

from collections import Counter
from datetime import date, timedelta

from dispatch.days import DayRules, ProviderCalendar, VisitNeed, daily_capacity, place_visits

DECEMBER = [date(2026, 12, 1) + timedelta(days=d) for d in range(31)]
RULES = DayRules(visit_minutes=60, travel_minutes=30, working_minutes=180, min_gap_days=7)  # 2 a caregiver


def test_capacity_gap_and_even_spread():
    calendar = {"P": ProviderCalendar(1, date(2026, 12, 1), date(2026, 12, 31))}
    needs = [VisitNeed(f"E{i}", "P", 2 if i % 2 else 1) for i in range(40)]
    schedule = place_visits(DECEMBER, needs, calendar, RULES)
    assert not schedule.unplaced
    per_day = Counter(v.day for v in schedule.placed)
    assert max(per_day.values()) <= daily_capacity(calendar["P"], RULES) == 2
    assert max(per_day.values()) - min(per_day.values()) <= 1  # spread evenly
    days = {}
    for v in schedule.placed:
        days.setdefault(v.elder, []).append(v.day)
    assert all(abs((d[0] - d[1]).days) >= 7 for d in days.values() if len(d) == 2)


def test_contract_window_and_unplaceable():
    calendar = {
        "P": ProviderCalendar(1, date(2026, 12, 10), date(2026, 12, 14)),
        "Q": ProviderCalendar(1, date(2027, 1, 1), date(2027, 6, 30)),
    }
    needs = [VisitNeed("twice", "P", 2), VisitNeed("late", "Q", 1), VisitNeed("ghost", "R", 1)]
    needs += [VisitNeed(f"E{i}", "P", 1) for i in range(12)]
    schedule = place_visits(DECEMBER, needs, calendar, RULES)
    assert all(date(2026, 12, 10) <= v.day <= date(2026, 12, 14) for v in schedule.placed)
    reasons = Counter(u.reason for u in schedule.unplaced)
    assert reasons["no_contract_days"] == 1 and reasons["unknown_provider"] == 1
    assert reasons["no_day_far_enough_apart"] + reasons["no_capacity"] >= 2
    assert sum(1 for v in schedule.placed if v.provider == "P") == 10  # 5 days x 2


def test_preferred_weekdays_are_used_when_they_have_room():
    calendar = {"P": ProviderCalendar(3, date(2026, 12, 1), date(2026, 12, 31))}
    needs = [VisitNeed(f"E{i}", "P", 2, frozenset({2})) for i in range(4)]  # Wednesdays
    schedule = place_visits(DECEMBER, needs, calendar, RULES)
    assert not schedule.unplaced
    assert all(v.day.weekday() == 2 and v.on_preferred_day for v in schedule.placed)


def test_three_visits_are_placed_a_gap_apart_even_in_a_tight_window():
    """Fifteen contract days fit three visits a week apart only on the 1st, 8th and 15th: the first
    visit of each elder must leave room for both others, not just for one."""
    calendar = {"P": ProviderCalendar(1, date(2026, 12, 1), date(2026, 12, 15))}
    schedule = place_visits(DECEMBER, [VisitNeed("E1", "P", 3), VisitNeed("E2", "P", 3)], calendar, RULES)
    assert not schedule.unplaced
    days = {}
    for v in schedule.placed:
        days.setdefault(v.elder, []).append(v.day.day)
    assert sorted(days["E1"]) == sorted(days["E2"]) == [1, 8, 15]
