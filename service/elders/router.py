from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, Staff
from service.catalogue import ElderStatus, RecordedCategory
from service.deps import SessionDep
from service.elders import service
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
)
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.schemas import Page
from service.validation import AreaCode, IdPath, Month, Text

router = APIRouter(prefix="/api/v1/elders", tags=["registry"])
NOT_FOUND = {404: {"description": "No such elder"}}


@router.get("", response_model=Page[ElderPublic])
async def list_elders(
    session: SessionDep,
    principal: Staff,
    phone: Annotated[Text | None, Query(max_length=20, description="Exact mobile number")] = None,
    q: Annotated[Text | None, Query(min_length=1, max_length=50, description="Name fragment or ID number")] = None,
    area: Annotated[AreaCode | None, Query(description="Area code prefix")] = None,
    status: ElderStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ElderPublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_elders(
        session, phone=phone, q=q, area=area, status=status, after=position["after"] if position else None, limit=limit
    )
    return Page(items=[service.to_public(e, principal) for e in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.post(
    "",
    status_code=201,
    response_model=ElderPublic,
    responses={
        409: {"description": "ID number or device already registered, or the Idempotency-Key is still in flight"}
    },
)
async def create_elder(body: ElderCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    async def create():
        return service.to_public(await service.create_elder(session, body, principal), principal)

    return await idempotency.run(body, create, ElderPublic)


@router.get("/{elder_id}", response_model=ElderPublic, responses=NOT_FOUND)
async def get_elder(elder_id: IdPath, session: SessionDep, principal: Staff) -> ElderPublic:
    return service.to_public(await service.get_elder(session, elder_id), principal)


@router.patch(
    "/{elder_id}",
    response_model=ElderPublic,
    responses={**NOT_FOUND, 409: {"description": "ID number or device clash"}},
)
async def update_elder(elder_id: IdPath, body: ElderUpdate, session: SessionDep, principal: Admin) -> ElderPublic:
    return service.to_public(await service.update_elder(session, elder_id, body, principal), principal)


@router.get("/{elder_id}/categories", response_model=list[CategoryPublic], responses=NOT_FOUND)
async def list_categories(elder_id: IdPath, session: SessionDep, _: Staff) -> list[CategoryPublic]:
    """Recorded categories (with date and source), then the age groups derived from the ID number today."""
    return await service.list_categories(session, elder_id)


@router.post(
    "/{elder_id}/categories",
    status_code=201,
    response_model=CategoryPublic,
    responses={
        **NOT_FOUND,
        409: {"description": "The elder has this category already, or the Idempotency-Key is still in flight"},
    },
)
async def add_category(
    elder_id: IdPath, body: CategoryCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep
):
    return await idempotency.run(body, lambda: service.add_category(session, elder_id, body, principal), CategoryPublic)


@router.delete("/{elder_id}/categories/{category}", status_code=204, responses=NOT_FOUND)
async def remove_category(elder_id: IdPath, category: RecordedCategory, session: SessionDep, principal: Admin) -> None:
    """The elder no longer belongs to the category (audited); next month's plan reads it so."""
    await service.remove_category(session, elder_id, category, principal)


@router.get("/{elder_id}/assessments", response_model=list[AssessmentPublic], responses=NOT_FOUND)
async def list_assessments(elder_id: IdPath, session: SessionDep, _: Staff) -> list[AssessmentPublic]:
    """Ability assessments (GB/T 42195-2022), the latest first."""
    return await service.list_assessments(session, elder_id)


@router.post(
    "/{elder_id}/assessments",
    status_code=201,
    response_model=AssessmentPublic,
    responses={**NOT_FOUND, 409: {"description": "The Idempotency-Key is still in flight"}},
)
async def add_assessment(
    elder_id: IdPath, body: AssessmentCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep
):
    return await idempotency.run(
        body, lambda: service.add_assessment(session, elder_id, body, principal), AssessmentPublic
    )


@router.get("/{elder_id}/contacts", response_model=list[ContactPublic], responses=NOT_FOUND)
async def list_contacts(elder_id: IdPath, session: SessionDep, principal: Staff) -> list[ContactPublic]:
    """Family, guardian and neighbours to call, the guardian first."""
    return await service.list_contacts(session, elder_id, principal)


@router.post(
    "/{elder_id}/contacts",
    status_code=201,
    response_model=ContactPublic,
    responses={**NOT_FOUND, 409: {"description": "The Idempotency-Key is still in flight"}},
)
async def add_contact(
    elder_id: IdPath, body: ContactCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep
):
    return await idempotency.run(body, lambda: service.add_contact(session, elder_id, body, principal), ContactPublic)


@router.delete("/{elder_id}/contacts/{contact_id}", status_code=204, responses=NOT_FOUND)
async def remove_contact(elder_id: IdPath, contact_id: IdPath, session: SessionDep, principal: Admin) -> None:
    await service.remove_contact(session, elder_id, contact_id, principal)


@router.get("/{elder_id}/entitlement", response_model=EntitlementPublic, responses=NOT_FOUND)
async def get_entitlement(
    elder_id: IdPath, month: Annotated[Month, Query()], session: SessionDep, _: Staff
) -> EntitlementPublic:
    """What the month's plan gives the elder: the policy's rule, an override, or the registry's number."""
    return await service.elder_entitlement(session, elder_id, month)
