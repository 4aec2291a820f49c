"""What the survey (摸底调查) records about each seeded elder, and the entitlement policy of each scenario.

The shares are assumptions (see places/README.md): the seed's visits a month come first (drawn in
elders.py from age and living alone), and each elder's ability level and categories are drawn to agree
with them under the scenario's policy below, so that loading the policy changes no elder's visits:
- two visits: a level of 中度 (moderate) or worse, or a 低保/特困 elder at any level;
- one visit: 能力完好 or 轻度 (intact, mild), never 低保/特困 (the catch-all rule).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

SURVEY_DAY = date(2025, 9, 1)  # the categories' `since`: the survey that found the eligible elders
SURVEY_SOURCE = {"guandu": "官渡区2025年老年人摸底调查", "haikou": "海口市2025年老年人基本信息库核查"}
ASSESSOR = {"guandu": "官渡区老年人能力评估中心", "haikou": "海口市12349居家养老服务中心评估组"}
FIRST_ASSESSMENT, ASSESSMENT_DAYS = date(2026, 1, 5), 300  # assessed during 2026, reviewed a year later
REVIEW_AFTER = timedelta(days=365)

_LEVELS = ("intact", "mild", "moderate", "severe", "total")
_ONE_VISIT_LEVELS = np.array([0.62, 0.38, 0, 0, 0])  # 能力完好 / 轻度
_TWO_VISIT_LEVELS = np.array([0, 0, 0.62, 0.28, 0.10])  # 中度 / 重度 / 完全丧失
_ANY_LEVEL = np.array([0.30, 0.30, 0.22, 0.12, 0.06])  # 低保/特困 elders with two visits by that alone
SUBSIDISED_SHARE_OF_TWO = 0.14  # of two-visit elders: 低保 or 特困 (特困 a quarter of them)
TEKUN_SHARE = 0.25
YOUFU_SHARE = 0.02  # 优抚 (veterans' families), at any entitlement
EMPTY_NEST_SHARE = 0.35  # of elders not living alone: living with a spouse only (空巢)


def draw_programme(
    g: np.random.Generator, alone: np.ndarray, two_visits: np.ndarray
) -> tuple[list[tuple[str, ...]], list[str], list[date]]:
    """Per elder: recorded categories (catalogue order), ability level, assessment day. Drawn after every
    other number of the block, so the elders' other fields are what they were before."""
    count = len(alone)
    subsidised = two_visits & (g.random(count) < SUBSIDISED_SHARE_OF_TWO)
    tekun = subsidised & (g.random(count) < TEKUN_SHARE)
    youfu = g.random(count) < YOUFU_SHARE
    empty_nest = ~alone & (g.random(count) < EMPTY_NEST_SHARE)
    u = g.random(count)
    levels = np.where(
        subsidised, _pick(u, _ANY_LEVEL), np.where(two_visits, _pick(u, _TWO_VISIT_LEVELS), _pick(u, _ONE_VISIT_LEVELS))
    )
    days = g.integers(0, ASSESSMENT_DAYS, count)
    categories = []
    for is_alone, nest, sub, tk, yf in zip(
        alone.tolist(), empty_nest.tolist(), subsidised.tolist(), tekun.tolist(), youfu.tolist(), strict=True
    ):
        categories.append(
            tuple(
                c
                for c, has in (
                    ("living_alone", is_alone),
                    ("empty_nest", nest),
                    ("dibao", sub and not tk),
                    ("tekun", tk),
                    ("youfu", yf),
                )
                if has
            )
        )
    return (
        categories,
        [_LEVELS[i] for i in levels.tolist()],
        [FIRST_ASSESSMENT + timedelta(days=d) for d in days.tolist()],
    )


def _pick(u: np.ndarray, shares: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(np.cumsum(shares), u, side="right"), len(shares) - 1)


_SEVERE = ["moderate", "severe", "total"]


def policy(scenario: str, area_code: str) -> dict:
    """The scenario's entitlement policy as `POST /api/v1/policies` takes it (amounts assumed)."""
    if scenario == "guandu":  # 官渡照护: 1-2 visits a month of at least 60 minutes
        everyday = ["clean", "companionship", "health", "medical", "meal", "mobility", "recreation", "emergency"]
        return {
            "area_code": area_code,
            "name": "官渡照护服务标准(2026)",
            "effective_from": "2026-01-01",
            "rules": [
                {
                    "levels": _SEVERE,
                    "visits_per_month": 2,
                    "services": everyday,
                    "subsidy_cap_yuan": "240",
                    "copay_share": "0",
                },
                {
                    "categories": ["dibao", "tekun"],
                    "visits_per_month": 2,
                    "services": everyday,
                    "subsidy_cap_yuan": "200",
                    "copay_share": "0",
                },
                {
                    "categories": ["aged_80", "living_alone", "empty_nest", "youfu"],
                    "visits_per_month": 1,
                    "services": everyday,
                    "subsidy_cap_yuan": "120",
                    "copay_share": "0.1",
                },
                {"visits_per_month": 1, "services": everyday, "subsidy_cap_yuan": "100", "copay_share": "0.2"},
            ],
        }
    # 助急、助餐、助洁、助医、助行、助乐
    six_helps = ["emergency", "meal", "clean", "medical", "mobility", "recreation"]
    everyday = [*six_helps, "companionship", "health"]
    return {
        "area_code": area_code,
        "name": "海口虚拟养老院服务标准(2026)",
        "effective_from": "2026-01-01",
        "rules": [
            {
                "levels": _SEVERE,
                "visits_per_month": 2,
                "services": everyday,
                "subsidy_cap_yuan": "300",
                "copay_share": "0",
            },
            {
                "categories": ["dibao", "tekun"],
                "visits_per_month": 2,
                "services": everyday,
                "subsidy_cap_yuan": "260",
                "copay_share": "0",
            },
            {
                "categories": ["aged_80", "living_alone", "empty_nest", "youfu"],
                "visits_per_month": 1,
                "services": everyday,
                "subsidy_cap_yuan": "150",
                "copay_share": "0.1",
            },
            {"visits_per_month": 1, "services": everyday, "subsidy_cap_yuan": "100", "copay_share": "0.3"},
        ],
    }
