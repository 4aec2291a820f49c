"""Placing each provider's assigned visits on days of the month.

Rules: an elder's visits at least `min_gap_days` apart; at most a daily capacity per
provider (caregivers x working minutes / (visit + travel minutes)); an elder's preferred weekdays
when it has them and they have room; spread evenly (always the least-loaded allowed day); never
outside the provider's contract window. The calendar comes in as plain dates: no clock here.
Elders with the fewest allowed days go first, so the flexible ones fill in around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from dispatch.arrays import Bools, Ints


@dataclass(frozen=True)
class DayRules:
    visit_minutes: int = 60
    travel_minutes: int = 30
    working_minutes: int = 480
    min_gap_days: int = 7


@dataclass(frozen=True)
class ProviderCalendar:
    caregivers: int
    contract_start: date
    contract_end: date  # inclusive


@dataclass(frozen=True)
class VisitNeed:
    elder: str
    provider: str
    visits: int
    preferred_weekdays: frozenset[int] = frozenset()  # Monday = 0, as date.weekday()


@dataclass(frozen=True)
class PlacedVisit:
    elder: str
    provider: str
    day: date
    sequence: int  # 1 .. the elder's visits
    on_preferred_day: bool


@dataclass(frozen=True)
class UnplacedVisit:
    elder: str
    provider: str
    sequence: int
    reason: str  # "no_contract_days" | "no_capacity" | "no_day_far_enough_apart" | "unknown_provider"


@dataclass(frozen=True)
class DaySchedule:
    placed: tuple[PlacedVisit, ...]
    unplaced: tuple[UnplacedVisit, ...]


def daily_capacity(calendar: ProviderCalendar, rules: DayRules) -> int:
    return calendar.caregivers * rules.working_minutes // (rules.visit_minutes + rules.travel_minutes)


def place_visits(
    month_days: Sequence[date],
    needs: Iterable[VisitNeed],
    calendars: Mapping[str, ProviderCalendar],
    rules: DayRules = DayRules(),
) -> DaySchedule:
    by_provider: dict[str, list[VisitNeed]] = {}
    for need in needs:
        by_provider.setdefault(need.provider, []).append(need)
    placed: list[PlacedVisit] = []
    unplaced: list[UnplacedVisit] = []
    for provider, provider_needs in by_provider.items():
        calendar = calendars.get(provider)
        if calendar is None:
            unplaced += [
                UnplacedVisit(n.elder, provider, k + 1, "unknown_provider")
                for n in provider_needs
                for k in range(n.visits)
            ]
            continue
        _place_for_provider(month_days, provider_needs, calendar, rules, placed, unplaced)
    return DaySchedule(tuple(placed), tuple(unplaced))


def _place_for_provider(
    month_days: Sequence[date],
    needs: list[VisitNeed],
    calendar: ProviderCalendar,
    rules: DayRules,
    placed: list[PlacedVisit],
    unplaced: list[UnplacedVisit],
) -> None:
    days = [d for d in month_days if calendar.contract_start <= d <= calendar.contract_end]
    if not days:
        unplaced += [
            UnplacedVisit(n.elder, n.provider, k + 1, "no_contract_days") for n in needs for k in range(n.visits)
        ]
        return
    ordinal = np.array([d.toordinal() for d in days])
    weekday = np.array([d.weekday() for d in days])
    room = np.full(len(days), daily_capacity(calendar, rules), np.int64)
    load = np.zeros(len(days), np.int64)
    # Days up to `before[d]` (exclusive) and from `after[d]` on are far enough from day d.
    before = np.searchsorted(ordinal, ordinal - rules.min_gap_days, side="right")
    after = np.searchsorted(ordinal, ordinal + rules.min_gap_days, side="left")

    def flexibility(need: VisitNeed) -> tuple[int, int, str]:
        if not need.preferred_weekdays:
            return (-need.visits, len(days), need.elder)
        preferred = sum(1 for w in weekday.tolist() if w in need.preferred_weekdays)
        return (-need.visits, preferred, need.elder)

    for need in sorted(needs, key=flexibility):
        preferred = (
            np.isin(weekday, list(need.preferred_weekdays)) if need.preferred_weekdays else np.ones(len(days), bool)
        )
        chosen: list[int] = []
        for sequence in range(1, need.visits + 1):
            allowed = room > load
            for earlier in chosen:
                allowed &= np.abs(ordinal - ordinal[earlier]) >= rules.min_gap_days
            if sequence == need.visits - 1:  # leave a day far enough away for the last visit
                free = np.concatenate([[0], np.cumsum(allowed)])
                allowed &= (free[before] > 0) | (free[-1] - free[after] > 0)
            elif sequence < need.visits:
                allowed &= _room_for_later(allowed, ordinal, rules.min_gap_days, need.visits - sequence)
            if not allowed.any():
                reason = "no_capacity" if sequence == 1 or not (room > load).any() else "no_day_far_enough_apart"
                unplaced.append(UnplacedVisit(need.elder, need.provider, sequence, reason))
                continue
            # Least-loaded preferred day when one has room, else the least-loaded day of all.
            pool = allowed & preferred if (allowed & preferred).any() else allowed
            day = int(np.flatnonzero(pool)[np.argmin(load[pool])])
            load[day] += 1
            chosen.append(day)
            placed.append(PlacedVisit(need.elder, need.provider, days[day], sequence, bool(preferred[day])))


def _room_for_later(allowed: Bools, ordinal: Ints, gap: int, later: int) -> Bools:
    """The allowed days after which `later` more visits still fit: allowed days at least `gap` from
    that day and from each other. Taken earliest first, which fits the most. (Only elders with more
    than two visits get here; the last one's partner day is the vectorised check above.)"""
    days = np.flatnonzero(allowed).tolist()
    fits = np.zeros(len(allowed), bool)
    for day in days:
        count, last = 0, None
        for other in days:
            if abs(ordinal[other] - ordinal[day]) >= gap and (last is None or ordinal[other] - last >= gap):
                count, last = count + 1, ordinal[other]
        fits[day] = count >= later
    return fits
