"""Who is in proactive care's target group, and whose birthday it is: the one place that decides it.

An elder counts when living alone or aged 80 or more (高龄), by the same definitions as the entitlements
(service/entitlements/matching.py): living alone is the registry's flag `Elder.living_alone`, which
service/elders keeps in step with the recorded category `living_alone` (set when it is recorded, cleared when it
is removed) and which the entitlements' `facts_on` also reads; the age is `HIGH_AGE` by `aged_cutoff`, comparing
the birth date inside the resident ID number (digits 7-14, YYYYMMDD) as text, in SQL and in Python alike.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col

from service.elders.models import Elder
from service.entitlements import matching
from service.entitlements.matching import HIGH_AGE, aged_cutoff
from service.identity import birth_date


def age_on(id_number: str, day: date) -> int:
    return matching.age_on(birth_date(id_number), day)


def _born() -> ColumnElement:
    """The birth date as YYYYMMDD text: characters 7-14 of the ID number (GB 11643)."""
    return func.substr(Elder.id_number, 7, 8)


def in_target_group(day: date) -> ColumnElement:
    """SQL: the elder lives alone or is aged 80+ on `day`."""
    return or_(col(Elder.living_alone), _born() <= aged_cutoff(HIGH_AGE, day))


def is_in_target_group(living_alone: bool, id_number: str, day: date) -> bool:
    """The same, for an elder read: `in_target_group` in Python."""
    return living_alone or "aged_80" in matching.age_categories(id_number, day)


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
