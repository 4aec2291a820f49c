"""Who the generated elders are: valid, unique resident ID numbers and phones that agree with the
person's gender and birthday, ages 60-100, names of their generation."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from seed import names
from seed.people import MAX_AGE, MIN_AGE, birthday_range
from service.identity import birth_date, id_number_problem, mobile_problem
from tests.seed.conftest import age_on


def test_every_id_number_passes_the_service_check(world):
    problems = {e.id_number: id_number_problem(e.id_number) for e in world.elders}
    assert not {k: v for k, v in problems.items() if v}


def test_id_numbers_phones_and_devices_are_unique(world):
    elders = world.elders
    assert len({e.id_number for e in elders}) == len(elders)
    assert len({e.phone for e in elders}) == len(elders)
    devices = [e.device_id for e in elders if e.device_id]
    assert len(set(devices)) == len(devices)


def test_phones_are_valid_mainland_mobiles(world):
    assert not [e.phone for e in world.elders if mobile_problem(e.phone)]


def test_guandu_and_haikou_never_share_a_phone(guandu, haikou):
    assert not {e.phone for e in guandu.elders} & {e.phone for e in haikou.elders}


def test_gender_birthday_and_region_agree_with_the_id_number(world):
    region_codes = {"guandu": ("5301",), "haikou": ("4601", "460004")}[world.scenario]
    for elder in world.elders:
        assert elder.gender == ("male" if int(elder.id_number[16]) % 2 else "female")
        assert birth_date(elder.id_number) == elder.birth_date
        assert elder.id_number.startswith(region_codes)


def test_ages_are_60_to_100_and_shaped_like_an_elderly_population(world):
    ages = [age_on(e.birth_date) for e in world.elders]
    assert min(ages) >= MIN_AGE and max(ages) <= MAX_AGE
    share_80_plus = sum(a >= 80 for a in ages) / len(ages)
    assert 0.12 < share_80_plus < 0.25  # Haikou: 40,700 of 277,100 (14.7%)
    assert sum(e.gender == "female" for e in world.elders) / len(ages) > 0.5


def test_birthday_ranges_are_exactly_one_year_of_age():
    for age in (MIN_AGE, 75, MAX_AGE):
        earliest, latest = birthday_range(age)
        assert age_on(earliest) == age == age_on(latest)
        assert age_on(earliest - timedelta(days=1)) == age + 1 and age_on(latest + timedelta(days=1)) == age - 1


def test_names_are_chinese_with_surnames_weighted_by_region(guandu, haikou):
    for world in (guandu, haikou):
        assert all(2 <= len(e.name) <= 3 and "\u4e00" <= e.name[0] <= "\u9fff" for e in world.elders)
    guandu_top = Counter(e.name[0] for e in guandu.elders).most_common(3)
    haikou_surnames = Counter(e.name[0] for e in haikou.elders)
    assert {s for s, _ in guandu_top} <= {"李", "杨", "张", "王", "刘", "赵"}
    assert haikou_surnames["符"] > haikou_surnames["赵"]  # Hainan's 符 outnumbers 赵 there


def test_given_names_follow_the_generation(haikou):
    women = [e for e in haikou.elders if e.gender == "female"]
    older = {e.name[1:] for e in women if e.birth_date.year < 1950}
    younger = {e.name[1:] for e in women if e.birth_date.year >= 1950}
    assert older & set(names.FEMALE_BEFORE_1950) and not older & set(names.FEMALE_FROM_1950)
    assert younger & set(names.FEMALE_FROM_1950) and not younger & set(names.FEMALE_BEFORE_1950)
    assert set(names.FEMALE_SINGLE) & older and not set(names.MALE_BEFORE_1950) & older
