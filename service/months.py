"""Months are local calendar months in China Standard Time, never UTC months."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.validation import is_month  # noqa: F401  (the CLI's check of --month, same as the API's)


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def next_month(month: str) -> str:
    day = first_day(month)
    return f"{day.year + day.month // 12}-{day.month % 12 + 1:02d}"


def previous_month(month: str) -> str:
    day = first_day(month) - timedelta(days=1)
    return day.strftime("%Y-%m")


def days_of(month: str) -> list[date]:
    start, end = first_day(month), first_day(next_month(month))
    return [start + timedelta(days=i) for i in range((end - start).days)]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local month, in UTC."""
    start = datetime.combine(first_day(month), datetime.min.time(), tzinfo=tz)
    end = datetime.combine(first_day(next_month(month)), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
