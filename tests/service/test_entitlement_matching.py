"""The pure parts: age from the ID number's birth date, and which policy rule admits an elder."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.entitlements.matching import (
    ElderFacts,
    Policy,
    PolicyBook,
    Rule,
    age_categories,
    age_on,
    aged_cutoff,
    entitlement,
    facts_on,
    first_match,
)
from service.identity import birth_date, id_check_char, id_number_problem


def id_for(born: str, region: str = "530111", serial: str = "002") -> str:
    first17 = region + born + serial
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        ("19460101", date(2026, 1, 1), 80),  # the birthday itself
        ("19460102", date(2026, 1, 1), 79),  # the day before it
        ("19441231", date(2026, 12, 1), 81),
        ("19240229", date(2024, 2, 28), 99),  # born on 29 February
        ("19240229", date(2024, 2, 29), 100),
        ("19240229", date(2025, 2, 28), 100),  # no 29 February in 2025: a year older on 1 March
        ("19250301", date(2025, 2, 28), 99),
    ],
)
def test_age_on_a_day(born, day, age):
    number = id_for(born)
    assert id_number_problem(number) is None
    assert birth_date(number) == date(int(born[:4]), int(born[4:6]), int(born[6:]))
    assert age_on(birth_date(number), day) == age
    assert ("aged_80" in age_categories(number, day)) == (age >= 80)
    assert ("aged_100" in age_categories(number, day)) == (age >= 100)
    # The text cut-off the reports compare digits 7-14 with agrees with the arithmetic.
    assert (born <= aged_cutoff(80, day)) == (age >= 80)
    assert (born <= aged_cutoff(100, day)) == (age >= 100)


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("53011119450230002X", "impossible birth date"),  # 30 February
        ("530111194513010021", "impossible birth date"),  # month 13
        ("530111188001010021", "impossible birth date"),  # before 1890
        (id_for("19450315")[:17] + ("0" if id_for("19450315")[17] != "0" else "1"), "check digit"),
    ],
)
def test_invalid_id_numbers_are_named(number, problem):
    assert problem in id_number_problem(number)


RULES = [
    Rule(
        2,
        ("clean", "medical"),
        Decimal("300"),
        Decimal("0"),
        categories=frozenset({"tekun", "dibao"}),
        levels=frozenset({"severe", "total"}),
    ),
    Rule(2, ("clean",), Decimal("200"), Decimal("0.1"), levels=frozenset({"moderate", "severe", "total"})),
    Rule(1, ("companionship",), Decimal("100"), Decimal("0.2"), categories=frozenset({"aged_80", "living_alone"})),
]


def facts(*categories: str, level: str | None = None) -> ElderFacts:
    return ElderFacts(frozenset(categories), level, True)


@pytest.mark.parametrize(
    ("elder", "rule"),
    [
        (facts("tekun", level="total"), 0),
        (facts("dibao", level="moderate"), 1),  # not severe enough for the first: the second
        (facts(level="severe"), 1),
        (facts("aged_80", level="mild"), 2),
        (facts("living_alone"), 2),
        (facts("empty_nest", level="intact"), None),
        (facts(), None),
    ],
)
def test_the_first_rule_that_admits_wins(elder, rule):
    assert first_match(RULES, elder) == rule


def test_facts_read_only_what_is_in_effect_on_the_day():
    number = id_for("19450315")
    day = date(2026, 12, 1)
    recorded = [("dibao", date(2026, 11, 3)), ("tekun", date(2026, 12, 2))]  # tekun only from the 2nd
    assessments = [(date(2025, 6, 1), 1, "mild"), (date(2026, 11, 20), 2, "severe"), (date(2026, 12, 5), 3, "total")]
    f = facts_on(day, number, True, recorded, assessments)
    assert f.categories == {"dibao", "living_alone", "aged_80"} and f.level == "severe" and f.recorded
    bare = facts_on(day, number, True, [], [])
    assert not bare.recorded and bare.categories == {"living_alone", "aged_80"}


def test_entitlement_override_then_policy_then_registry():
    city = Policy(1, "海口", ("460105", "460106"), RULES)
    street = Policy(2, "街道试点", ("460106001",), [Rule(1, ("meal",), Decimal("50"), Decimal("0.5"))])
    book = PolicyBook([city, street])
    assert book.for_area("460106001002") is street and book.for_area("460106002001") is city
    assert book.for_area("530111001001") is None
    assert entitlement(book, "460105001001", facts("tekun", level="total"), 1, None).visits_per_month == 2
    assert entitlement(book, "460105001001", facts("tekun", level="total"), 1, "家属要求").source == "override"
    refused = entitlement(book, "460105001001", facts("empty_nest"), 2, None)
    assert (refused.source, refused.visits_per_month, refused.rule) == ("policy", 0, None)
    unrecorded = ElderFacts(frozenset({"aged_80"}), None, False)
    assert entitlement(book, "460105001001", unrecorded, 1, None).source == "registry"
    assert entitlement(book, "530111001001", facts("tekun"), 2, None) == entitlement(
        book, "530111001001", facts("tekun"), 2, None
    )
    assert entitlement(book, "530111001001", facts("tekun"), 2, None).source == "registry"
