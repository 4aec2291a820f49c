"""Who is in proactive care's target group, and whose birthday it is: the one place that decides it.

Today an elder counts when living alone (`Elder.living_alone`) or aged 80 or more, the age taken from the
birth date inside the resident ID number (service/identity.py). When the elder categories (living alone,
empty-nest, …) land in service/elders, only this module changes.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col

from service.elders.models import Elder
from service.identity import birth_date

OLD_AGE = 80


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def age_on(id_number: str, day: date) -> int:
    born = birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _born() -> ColumnElement:
    """The birth date as YYYYMMDD text: characters 7-14 of the ID number (GB 11643)."""
    return func.substr(Elder.id_number, 7, 8)


def aged_at_least(years: int, day: date) -> ColumnElement:
    return _born() <= _years_before(day, years).strftime("%Y%m%d")


def in_target_group(day: date) -> ColumnElement:
    """SQL: the elder lives alone or is aged 80+ on `day`."""
    return or_(col(Elder.living_alone), aged_at_least(OLD_AGE, day))


def is_in_target_group(living_alone: bool, id_number: str, day: date) -> bool:
    """The same, for an elder read: `in_target_group` in Python."""
    return living_alone or age_on(id_number, day) >= OLD_AGE


def birthday_on(day: date) -> ColumnElement:
    """SQL: `day` is the elder's birthday (those born on 29 February celebrate on the 28th in other years)."""
    days = [day.strftime("%m%d")]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        days.append("0229")
    return func.substr(Elder.id_number, 11, 4).in_(days)


def is_birthday(id_number: str, day: date) -> bool:
    born = birth_date(id_number)
    if (born.month, born.day) == (day.month, day.day):
        return True
    return (born.month, born.day) == (2, 29) and (day.month, day.day) == (2, 28) and not calendar.isleap(day.year)
