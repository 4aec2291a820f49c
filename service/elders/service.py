"""The elder registry: validation that needs the database, masking by role, audited writes."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.extent import district_box, refuse_outside
from service.areas.service import require_area
from service.audit.service import record_change, snapshot
from service.catalogue import ABILITY_LEVELS, ELDER_CATEGORIES, RECORDED_CATEGORIES
from service.db import flush_or_conflict, utcnow
from service.elders.models import AbilityAssessment, Elder, ElderCategory, ElderContact
from service.elders.schemas import (
    AssessmentCreate,
    AssessmentPublic,
    CategoryCreate,
    CategoryPublic,
    ContactCreate,
    ContactPublic,
    ElderCreate,
    ElderPublic,
    ElderUpdate,
    EntitlementPublic,
    RulePublic,
)
from service.entitlements import matching
from service.entitlements.service import policy_book, recorded_facts
from service.errors import Conflict, Invalid, NotFound
from service.identity import birth_date, mask_id_number, mask_phone, normalise_id_number, normalise_phone
from service.months import first_day
from service.schemas import StoredLocation
from service.tokens.service import Principal

LOCAL = ZoneInfo("Asia/Shanghai")  # the programmes' calendar, for an elder's age today
_UNIQUE_FIELDS = ("id_number", "device_id")
ELDER_CLASH = "the change clashes with another elder (ID number or device already registered)"


def to_public(elder: Elder, principal: Principal, today: date | None = None) -> ElderPublic:
    admin = principal.role == "admin"
    today = today or utcnow().astimezone(LOCAL).date()
    return ElderPublic(
        **elder.model_dump(exclude={"lat", "lon", "id_number", "phone"}),
        age=_age(elder.id_number, today),
        id_number=elder.id_number if admin else mask_id_number(elder.id_number),
        phone=elder.phone if principal.role != "provider" else mask_phone(elder.phone),
        location=StoredLocation(lat=elder.lat, lon=elder.lon),
    )


def _age(id_number: str, today: date) -> int | None:
    try:
        return matching.age_on(birth_date(id_number), today)
    except ValueError:  # a row written around the API with an impossible birth date: shown, not a 500
        return None


async def get_elder(session: AsyncSession, elder_id: int) -> Elder:
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"elder {elder_id} does not exist")
    return elder


async def _refuse_duplicates(session: AsyncSession, values: dict, own_id: int | None = None) -> None:
    # Checked up front so the client is told which field clashes; the unique index still decides races.
    for field in _UNIQUE_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        clash = (await session.exec(select(Elder.id).where(getattr(Elder, field) == value))).first()
        if clash is not None and clash != own_id:
            raise Conflict(f"another elder (id {clash}) already has this {field}")


async def create_elder(session: AsyncSession, data: ElderCreate, principal: Principal) -> Elder:
    await require_area(session, data.area_code, field="area_code", level="community")
    values = data.model_dump(exclude={"location"})
    lat, lon = data.location.wgs84()
    refuse_outside(district_box(data.area_code), lat, lon, "location")
    await _refuse_duplicates(session, values)
    elder = Elder(**values, lat=lat, lon=lon)
    session.add(elder)
    await session.flush()
    record_change(
        session, actor=principal.actor, action="elder.create", entity="elder", entity_id=elder.id, after=snapshot(elder)
    )
    await flush_or_conflict(session, ELDER_CLASH)  # committed with its Idempotency-Key's answer
    return elder


async def update_elder(session: AsyncSession, elder_id: int, data: ElderUpdate, principal: Principal) -> Elder:
    elder = await get_elder(session, elder_id)
    changes = data.model_dump(exclude_unset=True, exclude={"location"})
    if data.area_code is not None:
        await require_area(session, data.area_code, field="area_code", level="community")
    lat, lon = data.location.wgs84() if data.location is not None else (elder.lat, elder.lon)
    if data.location is not None or data.area_code is not None:  # the home must stay in its district
        refuse_outside(
            district_box(data.area_code or elder.area_code),
            lat,
            lon,
            "location" if data.location is not None else "area_code",
        )
    await _refuse_duplicates(session, changes, own_id=elder.id)
    await _check_override(session, elder, changes)
    before = snapshot(elder)
    for field, value in changes.items():
        setattr(elder, field, value)
    elder.lat, elder.lon = lat, lon
    elder.updated_at = utcnow()
    record_change(
        session,
        actor=principal.actor,
        action="elder.update",
        entity="elder",
        entity_id=elder.id,
        before=before,
        after=snapshot(elder),
    )
    await flush_or_conflict(session, ELDER_CLASH)
    return elder


async def list_elders(
    session: AsyncSession,
    *,
    phone: str | None,
    q: str | None,
    area: str | None,
    status: str | None,
    after: int | None,
    limit: int,
) -> list[Elder]:
    query = select(Elder).order_by(Elder.id).limit(limit + 1)
    if phone:
        query = query.where(Elder.phone == normalise_phone(phone))
    if q:
        # A name fragment, or a whole ID number (operators read it off the elder's card).
        query = query.where(or_(Elder.name.contains(q, autoescape=True), Elder.id_number == normalise_id_number(q)))
    if area:
        query = query.where(Elder.area_code.startswith(area))
    if status:
        query = query.where(Elder.status == status)
    if after is not None:
        query = query.where(Elder.id > after)
    return list((await session.exec(query)).all())


async def _governed(session: AsyncSession, elder_id: int) -> bool:
    """True when a category is recorded for the elder or an assessment made: the policy decides for them."""
    for model in (ElderCategory, AbilityAssessment):
        if (await session.exec(select(model.id).where(model.elder_id == elder_id).limit(1))).first() is not None:
            return True
    return False


async def _check_override(session: AsyncSession, elder: Elder, changes: dict) -> None:
    """`visits_per_month` of an elder the policy governs is an override: it needs its reason."""
    reason = changes.get("visits_override_reason", elder.visits_override_reason)
    if "visits_per_month" in changes and reason is None and await _governed(session, elder.id):
        raise Invalid.field(
            "visits_override_reason",
            "the entitlement policy decides this elder's visits; an override of visits_per_month needs its reason",
        )


def _category_public(row: ElderCategory) -> CategoryPublic:
    return CategoryPublic(
        category=row.category,
        label=RECORDED_CATEGORIES[row.category],
        derived=False,
        since=row.since,
        source=row.source,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def list_categories(session: AsyncSession, elder_id: int, today: date | None = None) -> list[CategoryPublic]:
    """The recorded categories, then the age groups the ID number gives today."""
    elder = await get_elder(session, elder_id)
    rows = (
        await session.exec(
            select(ElderCategory).where(ElderCategory.elder_id == elder_id).order_by(ElderCategory.category)
        )
    ).all()
    today = today or utcnow().astimezone(LOCAL).date()
    derived = [
        CategoryPublic(category=c, label=ELDER_CATEGORIES[c], derived=True, since=None, source=None)
        for c in sorted(matching.age_categories(elder.id_number, today))
    ]
    return [_category_public(row) for row in rows] + derived


async def add_category(
    session: AsyncSession, elder_id: int, data: CategoryCreate, principal: Principal
) -> CategoryPublic:
    elder = await get_elder(session, elder_id)
    taken = (
        await session.exec(
            select(ElderCategory.id).where(ElderCategory.elder_id == elder_id, ElderCategory.category == data.category)
        )
    ).first()
    clash = f"elder {elder_id} already has category {data.category}"
    if taken is not None:
        raise Conflict(clash)
    row = ElderCategory(
        elder_id=elder_id, category=data.category, since=data.since, source=data.source, recorded_by=principal.actor
    )
    session.add(row)
    if data.category == "living_alone":  # the registry's flag follows the recorded category
        elder.living_alone, elder.updated_at = True, utcnow()
    await session.flush()
    record_change(
        session,
        actor=principal.actor,
        action="elder.category.add",
        entity="elder",
        entity_id=elder_id,
        after=snapshot(row, ("category", "since", "source")),
    )
    await flush_or_conflict(session, clash)  # committed with its Idempotency-Key's answer
    return _category_public(row)


async def remove_category(session: AsyncSession, elder_id: int, category: str, principal: Principal) -> None:
    elder = await get_elder(session, elder_id)
    row = (
        await session.exec(
            select(ElderCategory).where(ElderCategory.elder_id == elder_id, ElderCategory.category == category)
        )
    ).first()
    if row is None:
        raise NotFound(f"elder {elder_id} has no recorded category {category}")
    before = snapshot(row, ("category", "since", "source"))
    await session.exec(delete(ElderCategory).where(col(ElderCategory.id) == row.id))
    if category == "living_alone":
        elder.living_alone, elder.updated_at = False, utcnow()
    record_change(
        session,
        actor=principal.actor,
        action="elder.category.remove",
        entity="elder",
        entity_id=elder_id,
        before=before,
    )


def _assessment_public(row: AbilityAssessment) -> AssessmentPublic:
    return AssessmentPublic(**row.model_dump(), label=ABILITY_LEVELS[row.level])


async def list_assessments(session: AsyncSession, elder_id: int) -> list[AssessmentPublic]:
    await get_elder(session, elder_id)
    rows = (
        await session.exec(
            select(AbilityAssessment)
            .where(AbilityAssessment.elder_id == elder_id)
            .order_by(col(AbilityAssessment.assessed_on).desc(), col(AbilityAssessment.id).desc())
        )
    ).all()
    return [_assessment_public(row) for row in rows]


async def add_assessment(
    session: AsyncSession, elder_id: int, data: AssessmentCreate, principal: Principal
) -> AssessmentPublic:
    if data.next_review_on <= data.assessed_on:
        raise Invalid.field("next_review_on", "must be after assessed_on")
    elder = await get_elder(session, elder_id)
    if data.assessed_on < birth_date(elder.id_number):
        raise Invalid.field("assessed_on", "is before the elder was born")
    if data.assessed_on > utcnow().astimezone(LOCAL).date():
        raise Invalid.field("assessed_on", "lies in the future")
    row = AbilityAssessment(
        elder_id=elder_id,
        level=data.level,
        assessed_on=data.assessed_on,
        assessor=data.assessor,
        next_review_on=data.next_review_on,
        created_by=principal.actor,
    )
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=principal.actor,
        action="elder.assessment",
        entity="elder",
        entity_id=elder_id,
        after=snapshot(row, ("id", "level", "assessed_on", "assessor", "next_review_on")),
    )
    await flush_or_conflict(session, "the assessment clashes with another")
    return _assessment_public(row)


def _contact_public(row: ElderContact, principal: Principal) -> ContactPublic:
    return ContactPublic(
        id=row.id,
        elder_id=row.elder_id,
        name=row.name,
        relation=row.relation,
        phone=row.phone if principal.role != "provider" else mask_phone(row.phone),
        guardian=row.guardian,
        created_at=row.created_at,
    )


async def list_contacts(session: AsyncSession, elder_id: int, principal: Principal) -> list[ContactPublic]:
    await get_elder(session, elder_id)
    rows = (
        await session.exec(
            select(ElderContact)
            .where(ElderContact.elder_id == elder_id)
            .order_by(col(ElderContact.guardian).desc(), ElderContact.id)
        )
    ).all()
    return [_contact_public(row, principal) for row in rows]


async def add_contact(session: AsyncSession, elder_id: int, data: ContactCreate, principal: Principal) -> ContactPublic:
    await get_elder(session, elder_id)
    row = ElderContact(elder_id=elder_id, **data.model_dump(), created_by=principal.actor)
    session.add(row)
    await session.flush()
    # The audit keeps who and how related, never the number (it is personal data of a third person).
    record_change(
        session,
        actor=principal.actor,
        action="elder.contact.add",
        entity="elder",
        entity_id=elder_id,
        after={"contact_id": row.id, "relation": row.relation, "guardian": row.guardian},
    )
    await flush_or_conflict(session, "the contact clashes with another")
    return _contact_public(row, principal)


async def remove_contact(session: AsyncSession, elder_id: int, contact_id: int, principal: Principal) -> None:
    row = await session.get(ElderContact, contact_id)
    if row is None or row.elder_id != elder_id:
        raise NotFound(f"elder {elder_id} has no contact {contact_id}")
    await session.exec(delete(ElderContact).where(col(ElderContact.id) == contact_id))
    record_change(
        session,
        actor=principal.actor,
        action="elder.contact.remove",
        entity="elder",
        entity_id=elder_id,
        before={"contact_id": contact_id, "relation": row.relation},
    )


async def elder_entitlement(session: AsyncSession, elder_id: int, month: str) -> EntitlementPublic:
    """What the plan of `month` gives the elder, read as the plan reads it (the same functions)."""
    elder = await get_elder(session, elder_id)
    day = first_day(month)
    book = await policy_book(session, day)
    categories, assessments = await recorded_facts(session, day, [elder_id])
    facts = matching.facts_on(
        day, elder.id_number, elder.living_alone, categories.get(elder_id, []), assessments.get(elder_id, [])
    )
    decided = matching.entitlement(book, elder.area_code, facts, elder.visits_per_month, elder.visits_override_reason)
    rule = None
    if decided.policy is not None and decided.rule is not None:
        r = decided.policy.rules[decided.rule]
        rule = RulePublic(
            index=decided.rule,
            visits_per_month=r.visits_per_month,
            services=list(r.services),
            subsidy_cap_yuan=r.subsidy_cap_yuan,
            copay_share=r.copay_share,
        )
    return EntitlementPublic(
        elder_id=elder_id,
        month=month,
        on=day,
        source=decided.source,
        visits_per_month=decided.visits_per_month,
        override_reason=elder.visits_override_reason,
        age=_age(elder.id_number, day),
        categories=sorted(facts.categories, key=list(ELDER_CATEGORIES).index),
        ability_level=facts.level,
        policy_id=decided.policy.id if decided.policy else None,
        policy_name=decided.policy.name if decided.policy else None,
        rule=rule,
    )
