"""Who is entitled to what: an elder's categories and ability level matched against a policy's rules.

Pure: no database, no clock. The plan, the entitlement endpoint and the tests use the same functions,
fed from one query per table (book.py), never one per elder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

HIGH_AGE, CENTENARIAN = 80, 100


def age_on(born: date, day: date) -> int:
    """Whole years of age on `day` (someone born on 29 February turns a year older on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@lru_cache(maxsize=64)
def aged_cutoff(years: int, day: date) -> str:
    """The latest birth date (YYYYMMDD, as in digits 7-14 of an ID number) of someone `years` old on `day`."""
    try:
        latest = day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one: born on 1 March is not yet that old
        latest = date(day.year - years, 2, 28)
    return latest.strftime("%Y%m%d")


_NONE, _HIGH, _BOTH = frozenset(), frozenset({"aged_80"}), frozenset({"aged_80", "aged_100"})


def age_categories(id_number: str, day: date) -> frozenset[str]:
    """高龄 (80+) and 百岁 (100+) on `day`, comparing the ID number's birth digits (YYYYMMDD) as text."""
    born = id_number[6:14]
    if born > aged_cutoff(HIGH_AGE, day):
        return _NONE
    return _BOTH if born <= aged_cutoff(CENTENARIAN, day) else _HIGH


@dataclass(frozen=True)
class ElderFacts:
    """What a policy looks at, on the first day of the month being planned."""

    categories: frozenset[str]  # recorded ones in effect, living_alone from the flag, and the age groups
    level: str | None  # the ability level in effect, None when never assessed
    recorded: bool  # a category recorded or an assessment in effect: the policy governs this elder


def facts_on(
    day: date,
    id_number: str,
    living_alone: bool,
    recorded: Iterable[tuple[str, date]],
    assessments: Iterable[tuple[date, int, str]],
) -> ElderFacts:
    """`recorded`: (category, since); `assessments`: (assessed_on, id, level). Only what is in effect on `day`
    counts: a category from its `since`, the latest assessment made on or before `day`."""
    categories = {c for c, since in recorded if since <= day}
    in_effect = [a for a in assessments if a[0] <= day]
    level = max(in_effect)[2] if in_effect else None
    is_recorded = bool(categories) or level is not None
    if living_alone:
        categories.add("living_alone")
    return ElderFacts(frozenset(categories).union(age_categories(id_number, day)), level, is_recorded)


@dataclass(frozen=True)
class Rule:
    """One line of a policy: elders in any of `categories` (none: every elder) and at any of `levels`
    (none: any level, or not assessed) get `visits_per_month` visits of `services`."""

    visits_per_month: int
    services: tuple[str, ...]
    subsidy_cap_yuan: Decimal
    copay_share: Decimal
    categories: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()

    def admits(self, facts: ElderFacts) -> bool:
        return (not self.categories or bool(self.categories & facts.categories)) and (
            not self.levels or facts.level in self.levels
        )


def first_match(rules: list[Rule], facts: ElderFacts) -> int | None:
    """The index of the first rule that admits the elder: rules are read in order, most specific first."""
    return next((i for i, rule in enumerate(rules) if rule.admits(facts)), None)


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    prefixes: tuple[str, ...]  # the area codes it covers (a city: its counties' codes)
    rules: list[Rule] = field(hash=False)


class PolicyBook:
    """The policies in effect on one day; an elder's is the one whose area code is the longest prefix of theirs."""

    def __init__(self, policies: list[Policy]) -> None:
        self._by_prefix = sorted(
            ((p, policy) for policy in policies for p in policy.prefixes), key=lambda item: -len(item[0])
        )

    def for_area(self, area_code: str) -> Policy | None:
        return next((policy for prefix, policy in self._by_prefix if area_code.startswith(prefix)), None)


@dataclass(frozen=True)
class Entitlement:
    source: str  # "policy" | "override" | "registry"
    visits_per_month: int
    policy: Policy | None = None
    rule: int | None = None  # index into the policy's rules; None under a policy: no rule admits the elder


def entitlement(
    book: PolicyBook, area_code: str, facts: ElderFacts, visits_per_month: int, override_reason: str | None
) -> Entitlement:
    """An operator's override first; then the policy of the elder's area, for an elder the survey or an
    assessment has recorded something about (no rule admits them: no visits); else the registry's number."""
    if override_reason is not None:
        return Entitlement("override", visits_per_month)
    policy = book.for_area(area_code) if facts.recorded else None
    if policy is None:
        return Entitlement("registry", visits_per_month)
    index = first_match(policy.rules, facts)
    return Entitlement("policy", 0 if index is None else policy.rules[index].visits_per_month, policy, index)
