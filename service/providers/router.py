from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, RegistryReader
from service.catalogue import ProviderStatus
from service.deps import SessionDep
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.providers import service
from service.providers.schemas import ProviderCreate, ProviderPublic, ProviderUpdate
from service.schemas import Page
from service.validation import AreaCode, IdPath

router = APIRouter(prefix="/api/v1/providers", tags=["registry"])
NOT_FOUND = {404: {"description": "No such provider"}}


@router.get("", response_model=Page[ProviderPublic])
async def list_providers(
    session: SessionDep,
    _: RegistryReader,
    area: Annotated[AreaCode | None, Query(description="Providers contracted in or under this area")] = None,
    status: ProviderStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProviderPublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_providers(
        session, area=area, status=status, after=position["after"] if position else None, limit=limit
    )
    return Page(items=await service.public_many(session, rows[:limit]), next_cursor=next_cursor(rows, limit))


@router.post(
    "",
    status_code=201,
    response_model=ProviderPublic,
    responses={409: {"description": "Name taken, or the Idempotency-Key is in flight"}},
)
async def create_provider(body: ProviderCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    return await idempotency.run(body, lambda: service.create_provider(session, body, principal), ProviderPublic)


@router.get("/{provider_id}", response_model=ProviderPublic, responses=NOT_FOUND)
async def get_provider(provider_id: IdPath, session: SessionDep, _: RegistryReader) -> ProviderPublic:
    return await service.public_one(session, await service.get_provider(session, provider_id))


@router.patch(
    "/{provider_id}", response_model=ProviderPublic, responses={**NOT_FOUND, 409: {"description": "Name taken"}}
)
async def update_provider(
    provider_id: IdPath, body: ProviderUpdate, session: SessionDep, principal: Admin
) -> ProviderPublic:
    return await service.update_provider(session, provider_id, body, principal)
