"""The place data files: division codes, outlines that keep out of the water, centres and contracts.

What "inside the district" means here: inside our hand-drawn outline of the district (see
seed/places/README.md), which is drawn inside the real boundary. These tests check that the data
is consistent with those outlines; they cannot check the outlines against the official boundary.
"""

from __future__ import annotations

import pytest

from seed.geography import SCENARIOS, edge_distance_km, inside, load_places
from service.catalogue import SERVICES

# Street and town codes from the NBS list (统计用区划代码), pinned so that an edit of the data file
# that changes one is caught.
OFFICIAL_STREETS = {
    "guandu": {
        "530111001": "关上街道",
        "530111002": "太和街道",
        "530111003": "吴井街道",
        "530111004": "金马街道",
        "530111005": "小板桥街道",
        "530111006": "官渡街道",
        "530111007": "矣六街道",
        "530111008": "六甲街道",
        "530111009": "大板桥街道",
        "530111010": "阿拉街道",
        "530111402": "昆明经济技术开发区",
    },
    "haikou": {
        "460105001": "秀英街道",
        "460105002": "海秀街道",
        "460105100": "长流镇",
        "460105101": "西秀镇",
        "460105102": "海秀镇",
        "460105103": "石山镇",
        "460105104": "永兴镇",
        "460105105": "东山镇",
        "460106001": "中山街道",
        "460106002": "滨海街道",
        "460106003": "金贸街道",
        "460106004": "大同街道",
        "460106005": "海垦街道",
        "460106006": "金宇街道",
        "460106100": "城西镇",
        "460106101": "龙桥镇",
        "460106102": "新坡镇",
        "460106103": "遵谭镇",
        "460106104": "龙泉镇",
        "460107001": "国兴街道",
        "460107002": "府城街道",
        "460107003": "滨江街道",
        "460107004": "凤翔街道",
        "460107101": "龙塘镇",
        "460107102": "云龙镇",
        "460107103": "红旗镇",
        "460107104": "三门坡镇",
        "460107105": "大坡镇",
        "460107106": "甲子镇",
        "460107107": "旧州镇",
        "460108001": "海府街道",
        "460108002": "蓝天街道",
        "460108003": "博爱街道",
        "460108004": "海甸街道",
        "460108005": "人民路街道",
        "460108006": "白龙街道",
        "460108007": "和平南街道",
        "460108008": "白沙街道",
        "460108009": "新埠街道",
        "460108101": "灵山镇",
        "460108102": "演丰镇",
        "460108103": "三江镇",
        "460108104": "大致坡镇",
        "460108400": "海口桂林洋经济开发区（农场）",
    },
}


@pytest.fixture(params=SCENARIOS)
def places(request):
    return load_places(request.param)


def test_streets_carry_their_official_codes_and_names(places):
    assert {s.code: s.name for _, s in places.streets()} == OFFICIAL_STREETS[places.scenario]


def test_codes_nest_and_are_unique(places):
    codes = [places.city[0]] if places.city else []
    for county in places.counties:
        assert len(county.code) == 6 and (not places.city or county.code[:4] == places.city[0][:4])
        codes.append(county.code)
        for street in county.streets:
            assert len(street.code) == 9 and street.code.startswith(county.code)
            codes.append(street.code)
            for community in street.communities:
                assert len(community.code) == 12 and community.code.startswith(street.code)
                # NBS convention: 0xx residents' committees (社区), 2xx villages' committees (村)
                assert community.code[9] == ("2" if community.is_village else "0")
                codes.append(community.code)
    assert len(codes) == len(set(codes))


def test_every_community_lies_inside_its_own_district_and_no_other(places):
    for county, _, community in places.communities():
        assert inside(community.lat, community.lon, county.outline), community.name
        others = [
            c.name for c in places.counties if c is not county and inside(community.lat, community.lon, c.outline)
        ]
        assert not others, (community.name, others)
        assert edge_distance_km(community.lat, community.lon, county.outline) > 0.2, community.name


def test_outlines_keep_out_of_the_water(places):
    for lat, lon in places.water_points:
        assert not any(inside(lat, lon, c.outline) for c in places.counties), (lat, lon)
    for water in places.water:
        for county in places.counties:
            # Points every ~100 m along both outlines: edges could cross without a vertex inside.
            assert not any(inside(lat, lon, water) for lat, lon in _along(county.outline))
            assert not any(inside(lat, lon, county.outline) for lat, lon in _along(water))
        for _, _, community in places.communities():
            assert not inside(community.lat, community.lon, water), community.name


def _along(outline, steps=100):
    for (a_lat, a_lon), (b_lat, b_lon) in zip(outline, outline[1:] + outline[:1], strict=True):
        for i in range(steps):
            yield a_lat + (b_lat - a_lat) * i / steps, a_lon + (b_lon - a_lon) * i / steps


def test_haikou_district_outlines_do_not_overlap():
    counties = load_places("haikou").counties
    for county in counties:
        for other in counties:
            if other is not county:
                assert not any(inside(lat, lon, other.outline) for lat, lon in _along(county.outline, 20))


def test_guandu_touches_dianchi_only_at_its_south_west():
    places = load_places("guandu")
    (county,) = places.counties
    (dianchi,) = places.water
    nearest = min(county.outline, key=lambda p: edge_distance_km(p[0], p[1], dianchi))
    assert nearest[0] < 24.96 and nearest[1] < 102.73  # the south-west corner, near 福保
    assert edge_distance_km(*nearest, dianchi) < 3.0


def test_guandu_has_43_community_centres_and_the_demonstration_centre():
    centres = load_places("guandu").centres
    kinds = [c.kind for c in centres]
    assert kinds.count("社区居家养老服务中心") == 43
    assert kinds.count("区级示范中心") == 1


def test_centres_stand_in_their_community_and_a_contracted_street_of_their_operator(places):
    communities = {m.code: (county, m) for county, _, m in places.communities()}
    contracts = {c.name: c for c in places.contracts}
    for centre in places.centres:
        county, community = communities[centre.community]
        assert inside(centre.lat, centre.lon, county.outline), centre.name
        assert abs(centre.lat - community.lat) < 0.01 and abs(centre.lon - community.lon) < 0.01
        assert centre.community[:9] in contracts[centre.operator].streets, centre.name
    assert {c.operator for c in places.centres} == set(contracts)  # every provider has a station


def test_contracts_cover_every_street_with_the_whole_catalogue(places):
    streets = {s.code for _, s in places.streets()}
    for contract in places.contracts:
        assert set(contract.streets) <= streets, contract.name
        assert set(contract.services) <= set(SERVICES), contract.name
        assert contract.contract_start < contract.contract_end
    for street in streets:
        offered = [set(c.services) for c in places.contracts if street in c.streets]
        assert any(o == set(SERVICES) for o in offered), street


def test_guandu_has_8_to_12_providers():
    assert 8 <= len(load_places("guandu").contracts) <= 12


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        load_places("atlantis")
