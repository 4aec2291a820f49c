"""The programmes' month: a calendar month in China Standard Time, never a UTC month."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from providers.models import Assignment

CHINA = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    if not _MONTH.match(month):
        raise ValueError(f"month {month!r} must look like 2026-12")
    return month


def month_of(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = moment.astimezone(CHINA)
    return moment.strftime("%Y-%m")


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def days_in(month: str) -> int:
    start = first_day(month)
    return ((start + timedelta(days=32)).replace(day=1) - start).days


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of the month, as aware times at midnight in China."""
    start = first_day(month)
    end = start + timedelta(days=days_in(month))
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=CHINA),
        datetime.combine(end, datetime.min.time(), tzinfo=CHINA),
    )


def assignment_month(assignment: Assignment) -> str:
    """The month the service files the request under: its planned day, else its window's start,
    else (an ad hoc request) when it was made, for which the first offer is the closest we see."""
    moment = assignment.planned_date or assignment.window_start or assignment.offered_at
    if moment is None:
        raise ValueError(f"assignment {assignment.id} has no date to place it in a month")
    return month_of(moment)
