"""The entitlement policy table: versions per area with effective periods, and what they give an elder.

Like the price table, a version may not start or end inside a month some area has closed (its plan and
settlement are signed). A plan reads the policy in effect on the first day of its month, with each
elder's categories and assessment in effect that day: changing an assessment changes the next plan
made, never a plan already made.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.areas.service import require_area
from service.audit.service import record_change, snapshot
from service.catalogue import ABILITY_LEVELS, ELDER_CATEGORIES, AbilityLevel, ElderCategoryCode, ServiceCode
from service.db import flush_or_conflict
from service.elders.models import AbilityAssessment, ElderCategory
from service.entitlements.matching import Policy, PolicyBook, Rule
from service.entitlements.models import EntitlementPolicy
from service.errors import Conflict, Invalid, NotFound
from service.months import first_day, next_month
from service.reports.models import MonthClose
from service.tokens.service import Principal
from service.validation import AreaCode, Body, Day, Patch, Text, distinct

Money = Annotated[Decimal, Field(ge=0, le=100000, max_digits=8, decimal_places=2, strict=False, allow_inf_nan=False)]
Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=3, decimal_places=2, strict=False, allow_inf_nan=False)]


class RuleIn(Body):
    categories: Annotated[list[ElderCategoryCode], AfterValidator(distinct)] = Field(
        default_factory=list, description="Any of these categories (none: every elder)"
    )
    levels: Annotated[list[AbilityLevel], AfterValidator(distinct)] = Field(
        default_factory=list, description="Any of these GB/T 42195 levels (none: any level, or not assessed)"
    )
    visits_per_month: int = Field(ge=0, le=2)
    services: Annotated[list[ServiceCode], AfterValidator(distinct)] = Field(
        min_length=1, description="The helps offered"
    )
    subsidy_cap_yuan: Money = Field(description="The most the government pays for the elder in a month")
    copay_share: Share = Field(description="The elder's share of each visit's price, 0-1")


class PolicyCreate(Body):
    area_code: AreaCode = Field(description="The area it governs (a city: its districts); the most specific wins")
    name: Text = Field(min_length=1, max_length=100)
    effective_from: Day
    effective_to: Day | None = Field(default=None, description="Last day it applies (inclusive); none: open-ended")
    rules: list[RuleIn] = Field(min_length=1, max_length=50, description="Read in order; the first that admits wins")


class PolicyEnd(Patch):
    effective_to: Day = Field(description="The version's new last day")


class RuleOut(BaseModel):
    categories: list[str]
    levels: list[str]
    visits_per_month: int
    services: list[str]
    subsidy_cap_yuan: Decimal
    copay_share: Decimal


class PolicyPublic(BaseModel):
    id: int
    area_code: str
    name: str
    effective_from: date
    effective_to: date | None
    rules: list[RuleOut]
    created_by: str


def stored_rule(rule: RuleIn) -> dict:
    return {
        "categories": rule.categories,
        "levels": rule.levels,
        "visits_per_month": rule.visits_per_month,
        "services": rule.services,
        "subsidy_cap_fen": int(rule.subsidy_cap_yuan * 100),
        "copay_share": str(rule.copay_share),
    }


def rule_of(stored: dict) -> Rule:
    return Rule(
        visits_per_month=stored["visits_per_month"],
        services=tuple(stored["services"]),
        subsidy_cap_yuan=(Decimal(stored["subsidy_cap_fen"]) / 100).quantize(Decimal("0.01")),
        copay_share=Decimal(stored["copay_share"]),
        categories=frozenset(stored["categories"]),
        levels=frozenset(stored["levels"]),
    )


def rule_public(rule: Rule) -> RuleOut:
    return RuleOut(
        categories=sorted(rule.categories, key=list(ELDER_CATEGORIES).index),
        levels=sorted(rule.levels, key=list(ABILITY_LEVELS).index),
        visits_per_month=rule.visits_per_month,
        services=list(rule.services),
        subsidy_cap_yuan=rule.subsidy_cap_yuan,
        copay_share=rule.copay_share,
    )


def public(row: EntitlementPolicy) -> PolicyPublic:
    return PolicyPublic(
        id=row.id,
        area_code=row.area_code,
        name=row.name,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        created_by=row.created_by,
        rules=[rule_public(rule_of(r)) for r in row.rules],
    )


async def _refuse_signed(session: AsyncSession, day: date, field: str) -> None:
    last_closed = (await session.exec(select(func.max(MonthClose.month)))).one()
    if last_closed is not None and day < first_day(next_month(last_closed)):
        raise Conflict(
            f"{field} {day.isoformat()} lies in or before {last_closed}, a month already closed and "
            f"signed; the earliest day is {first_day(next_month(last_closed)).isoformat()}"
        )


async def _refuse_overlap(
    session: AsyncSession, area_code: str, start: date, end: date | None, own_id: int | None = None
) -> None:
    query = select(EntitlementPolicy).where(
        EntitlementPolicy.area_code == area_code,
        or_(col(EntitlementPolicy.effective_to).is_(None), col(EntitlementPolicy.effective_to) >= start),
    )
    if end is not None:
        query = query.where(col(EntitlementPolicy.effective_from) <= end)
    for other in (await session.exec(query)).all():
        if other.id != own_id:
            until = other.effective_to.isoformat() if other.effective_to else "open-ended"
            raise Conflict(
                f"the period overlaps policy {other.id} of area {area_code} "
                f"({other.effective_from.isoformat()} to {until})"
            )


async def add_policy(session: AsyncSession, data: PolicyCreate, principal: Principal) -> PolicyPublic:
    if data.effective_to is not None and data.effective_to < data.effective_from:
        raise Invalid.field("effective_to", "is before effective_from")
    await require_area(session, data.area_code, field="area_code")
    await _refuse_signed(session, data.effective_from, "effective_from")
    await _refuse_overlap(session, data.area_code, data.effective_from, data.effective_to)
    row = EntitlementPolicy(
        area_code=data.area_code,
        name=data.name,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        rules=[stored_rule(r) for r in data.rules],
        created_by=principal.actor,
    )
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=principal.actor,
        action="policy.create",
        entity="entitlement_policy",
        entity_id=row.id,
        after=snapshot(row),
    )
    await flush_or_conflict(session, "the policy clashes with another")  # committed with its key's answer
    return public(row)


async def end_policy(session: AsyncSession, policy_id: int, data: PolicyEnd, principal: Principal) -> PolicyPublic:
    row = await session.get(EntitlementPolicy, policy_id)
    if row is None:
        raise NotFound(f"policy {policy_id} does not exist")
    if data.effective_to < row.effective_from:
        raise Invalid.field("effective_to", "is before effective_from")
    await _refuse_signed(session, min(data.effective_to, row.effective_to or data.effective_to), "effective_to")
    await _refuse_overlap(session, row.area_code, row.effective_from, data.effective_to, own_id=row.id)
    before = snapshot(row)
    row.effective_to = data.effective_to
    record_change(
        session,
        actor=principal.actor,
        action="policy.end",
        entity="entitlement_policy",
        entity_id=row.id,
        before=before,
        after=snapshot(row),
    )
    await session.flush()
    return public(row)


async def list_policies(session: AsyncSession, area: str | None, on: date | None) -> list[PolicyPublic]:
    query = select(EntitlementPolicy).order_by(EntitlementPolicy.area_code, EntitlementPolicy.effective_from)
    if area is not None:
        query = query.where(EntitlementPolicy.area_code == area)
    if on is not None:
        query = query.where(
            col(EntitlementPolicy.effective_from) <= on,
            or_(col(EntitlementPolicy.effective_to).is_(None), col(EntitlementPolicy.effective_to) >= on),
        )
    return [public(row) for row in (await session.exec(query)).all()]


async def policy_book(session: AsyncSession, day: date) -> PolicyBook:
    """The policies in effect on `day`, a city's spread over its counties: two queries whatever the size."""
    rows = (
        await session.exec(
            select(EntitlementPolicy).where(
                col(EntitlementPolicy.effective_from) <= day,
                or_(col(EntitlementPolicy.effective_to).is_(None), col(EntitlementPolicy.effective_to) >= day),
            )
        )
    ).all()
    codes = {row.area_code for row in rows}
    cities = set((await session.exec(select(Area.code).where(col(Area.code).in_(codes), Area.level == "city"))).all())
    counties: dict[str, list[str]] = defaultdict(list)
    if cities:
        for code, parent in (
            await session.exec(select(Area.code, Area.parent_code).where(col(Area.parent_code).in_(cities)))
        ).all():
            counties[parent].append(code)
    return PolicyBook(
        [
            Policy(
                row.id,
                row.name,
                tuple(counties[row.area_code])
                if row.area_code in cities and counties[row.area_code]
                else (row.area_code,),
                [rule_of(r) for r in row.rules],
            )
            for row in rows
        ]
    )


async def recorded_facts(
    session: AsyncSession, day: date, elder_ids: list[int] | None = None
) -> tuple[dict[int, list[tuple[str, date]]], dict[int, list[tuple[date, int, str]]]]:
    """Every elder's recorded categories and their assessments made by `day`, one query each (or only
    `elder_ids`'s): the plan reads Haikou's 300,000 elders this way, not one elder at a time."""
    categories: dict[int, list[tuple[str, date]]] = defaultdict(list)
    assessments: dict[int, list[tuple[date, int, str]]] = defaultdict(list)
    cq = select(ElderCategory.elder_id, ElderCategory.category, ElderCategory.since).where(
        col(ElderCategory.since) <= day
    )
    aq = select(
        AbilityAssessment.elder_id, AbilityAssessment.assessed_on, AbilityAssessment.id, AbilityAssessment.level
    ).where(col(AbilityAssessment.assessed_on) <= day)
    if elder_ids is not None:
        cq = cq.where(col(ElderCategory.elder_id).in_(elder_ids))
        aq = aq.where(col(AbilityAssessment.elder_id).in_(elder_ids))
    for elder_id, category, since in (await session.exec(cq)).all():
        categories[elder_id].append((category, since))
    for elder_id, assessed_on, assessment_id, level in (await session.exec(aq)).all():
        assessments[elder_id].append((assessed_on, assessment_id, level))
    return categories, assessments
