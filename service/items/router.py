from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, AnyRole
from service.deps import SessionDep
from service.idempotency.service import IdempotencyDep
from service.items import service
from service.items.service import ItemCreate, ItemPublic
from service.validation import Day

router = APIRouter(prefix="/api/v1/catalogue/items", tags=["registry"])


@router.get("", response_model=list[ItemPublic])
async def list_items(
    session: SessionDep,
    _: AnyRole,
    on: Annotated[Day | None, Query(description="Only the version of each item in force that day")] = None,
) -> list[ItemPublic]:
    """The service catalogue: every version of every item, by code then date."""
    return await service.list_items(session, on)


@router.post(
    "",
    status_code=201,
    response_model=ItemPublic,
    responses={
        403: {"description": "Not an admin"},
        409: {
            "description": "The item already has a version from that day, the day lies in a closed month, or the "
            "Idempotency-Key is still in flight"
        },
    },
)
async def add_item(body: ItemCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    """Add an item, or a new version of one from `effective_from` (earlier visits keep the rules they had)."""
    return await idempotency.run(body, lambda: service.add_item(session, body, principal), ItemPublic)
