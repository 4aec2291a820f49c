"""The shared wire types (service/validation.py) and the district boxes homes are held to."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from seed.geography import SCENARIOS, load_places
from service.areas.extent import CHINA, DISTRICTS, district_box
from service.validation import AreaCode, Day, DbId, Identifier, Moment, Month, Text


def accepts(annotation, value) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2000-01-01T00:00:00Z", True),
        ("2026-12-03T09:30:00+08:00", True),
        ("2099-12-31T23:59:59Z", True),
        ("2000-01-01T07:59:59+08:00", False),  # 1999 in UTC
        ("2100-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00+08:00", False),
        ("9999-12-31T23:59:59-12:00", False),
        ("0998-05-01T10:00:00+08:00", False),
        ("2026-12-03T09:30:00", False),  # no offset
        (1764547200, False),
        (True, False),
    ],
)
def test_moments_lie_in_the_plausible_years_with_an_offset(value, ok):
    assert accepts(Moment, value) is ok


def test_moments_are_kept_in_utc():
    moment = TypeAdapter(Moment).validate_python("2026-12-03T09:30:00+08:00")
    assert moment == datetime(2026, 12, 3, 1, 30, tzinfo=UTC) and moment.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2000-01-01", True),
        ("2099-12-31", True),
        (date(2026, 12, 1), True),
        ("1999-12-31", False),
        ("2100-01-01", False),
        ("0001-01-01", False),
        ("9999-12-31", False),
        (20261201, False),
    ],
)
def test_days_lie_in_the_plausible_years(value, ok):
    assert accepts(Day, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2000-01", True),
        ("2099-12", True),
        ("2026-10", True),
        ("1999-12", False),
        ("2100-01", False),
        ("0998-05", False),
        ("9999-12", False),
        ("0000-01", False),
        ("2026-13", False),
        ("2026-00", False),
        ("2026-1", False),
        ("２０２６-10", False),
        ("2026-10\n", False),
    ],
)
def test_months_are_yyyy_mm_in_the_plausible_years(value, ok):
    assert accepts(Month, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (1, True),
        (2**31 - 1, True),
        (0, False),
        (-1, False),
        (2**31, False),
        (2**63, False),
    ],
)
def test_ids_fit_an_integer_column(value, ok):
    assert accepts(DbId, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("关上社区 3栋\t2单元\n401", True),
        ("", True),
        ("a\x00b", False),
        ("\x1b[2J", False),
        ("\x7f", False),
        ("a\ud800b", False),
    ],
)
def test_text_refuses_nul_control_characters_and_lone_surrogates(value, ok):
    assert accepts(Text, value) is ok


def test_identifiers_are_nfkc_normalised():
    assert TypeAdapter(Identifier).validate_python(" ＹＪＴ－００７ ") == "YJT-007"
    assert not accepts(Identifier, "　")  # an ideographic space only: blank


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("530111", True),
        ("530111001", True),
        ("530111001001", True),
        ("53011", False),
        ("５３０１１１", False),
    ],
)
def test_area_codes_are_ascii_digits(value, ok):
    assert accepts(AreaCode, value) is ok


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_seeded_place_lies_in_its_district_box(scenario):
    places = load_places(scenario)
    for _, street, community in places.communities():
        for code, lat, lon in ((street.code, street.lat, street.lon), (community.code, community.lat, community.lon)):
            box = district_box(code)
            assert box is not CHINA and box.contains(lat, lon), (code, lat, lon, str(box))


def test_the_service_knows_the_seeded_districts_outlines_extents():
    seeded = {
        (
            county.code,
            county.name,
            min(lat for lat, _ in county.outline),
            max(lat for lat, _ in county.outline),
            min(lon for _, lon in county.outline),
            max(lon for _, lon in county.outline),
        )
        for scenario in SCENARIOS
        for county in load_places(scenario).counties
    }
    assert set(DISTRICTS) == seeded


def test_a_district_without_an_outline_is_held_to_china():
    assert district_box("110101001001") is CHINA  # Beijing: not a seeded district
    assert CHINA.contains(39.9, 116.4) and CHINA.contains(16.8, 112.3)  # Beijing; Sansha
    assert not CHINA.contains(0, 0) and not CHINA.contains(25.02, -102.74)
    guandu = district_box("530111001001")
    assert guandu.contains(25.0211, 102.7410) and not guandu.contains(20.04, 110.34)
