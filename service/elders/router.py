from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, Staff
from service.catalogue import ElderStatus
from service.deps import SessionDep
from service.elders import service
from service.elders.schemas import ElderCreate, ElderPublic, ElderUpdate
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.schemas import Page
from service.validation import AreaCode, IdPath, Text

router = APIRouter(prefix="/api/v1/elders", tags=["registry"])
NOT_FOUND = {404: {"description": "No such elder"}}


@router.get("", response_model=Page[ElderPublic])
async def list_elders(
    session: SessionDep, principal: Staff,
    phone: Annotated[Text | None, Query(max_length=20, description="Exact mobile number")] = None,
    q: Annotated[Text | None, Query(min_length=1, max_length=50, description="Name fragment or ID number")] = None,
    area: Annotated[AreaCode | None, Query(description="Area code prefix")] = None,
    status: ElderStatus | None = None,
    limit: LimitQuery = 50, cursor: CursorQuery = None,
) -> Page[ElderPublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_elders(session, phone=phone, q=q, area=area, status=status,
                                     after=position["after"] if position else None, limit=limit)
    return Page(items=[service.to_public(e, principal) for e in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.post("", status_code=201, response_model=ElderPublic,
             responses={409: {"description": "ID number or device already registered, or "
                                                          "the Idempotency-Key is still in flight"}})
async def create_elder(body: ElderCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    async def create():
        return service.to_public(await service.create_elder(session, body, principal), principal)

    return await idempotency.run(body, create, ElderPublic)


@router.get("/{elder_id}", response_model=ElderPublic, responses=NOT_FOUND)
async def get_elder(elder_id: IdPath, session: SessionDep, principal: Staff) -> ElderPublic:
    return service.to_public(await service.get_elder(session, elder_id), principal)


@router.patch("/{elder_id}", response_model=ElderPublic,
              responses={**NOT_FOUND, 409: {"description": "ID number or device clash"}})
async def update_elder(elder_id: IdPath, body: ElderUpdate, session: SessionDep, principal: Admin) -> ElderPublic:
    return service.to_public(await service.update_elder(session, elder_id, body, principal), principal)
