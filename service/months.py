"""Months are local calendar months in China Standard Time, never UTC months."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# The calendar's months, any year: the plausible years are the edge's rule (service/validation.py), and the
# helpers here must work for the months they compute from those (2000-01's previous month is 1999-12).
_CALENDAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return month_of_day(moment.astimezone(tz))


def month_of_day(day: date) -> str:
    # Not strftime: its %Y gives "998" for the year 998 on glibc, a month no helper here could read back.
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    """ValueError for anything but a month the calendar holds."""
    if not isinstance(month, str) or not _CALENDAR_MONTH.fullmatch(month) or month < "0001-01":
        raise ValueError(f"{month!r} is not a month (YYYY-MM)")
    return date(int(month[:4]), int(month[5:7]), 1)


def check_month(month: str) -> None:
    """ValueError unless `month` and the month after it are in the calendar: every helper here then
    works for it (9999-12 has no end, 0000-01 no beginning)."""
    first_day(next_month(month))


def next_month(month: str) -> str:
    day = first_day(month)
    return f"{day.year + day.month // 12:04d}-{day.month % 12 + 1:02d}"


def previous_month(month: str) -> str:
    return month_of_day(first_day(month) - timedelta(days=1))


def days_of(month: str) -> list[date]:
    start, end = first_day(month), first_day(next_month(month))
    return [start + timedelta(days=i) for i in range((end - start).days)]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local month, in UTC."""
    start = datetime.combine(first_day(month), datetime.min.time(), tzinfo=tz)
    end = datetime.combine(first_day(next_month(month)), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
