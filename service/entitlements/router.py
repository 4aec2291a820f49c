from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, RegistryReader
from service.deps import SessionDep
from service.entitlements import service
from service.entitlements.service import PolicyCreate, PolicyEnd, PolicyPublic
from service.idempotency.service import IdempotencyDep
from service.validation import AreaCode, Day, IdPath

router = APIRouter(prefix="/api/v1/policies", tags=["registry"])


@router.get("", response_model=list[PolicyPublic])
async def list_policies(
    session: SessionDep,
    _: RegistryReader,
    area: Annotated[AreaCode | None, Query(description="Exact area code")] = None,
    on: Annotated[Day | None, Query(description="Only the versions in effect that day")] = None,
) -> list[PolicyPublic]:
    """Every version of the entitlement policies, by area then date."""
    return await service.list_policies(session, area, on)


@router.post(
    "",
    status_code=201,
    response_model=PolicyPublic,
    responses={
        409: {
            "description": (
                "The period overlaps another version of the area's policy, starts in or before a closed month, or the "
                "Idempotency-Key is still in flight"
            )
        }
    },
)
async def add_policy(body: PolicyCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    return await idempotency.run(body, lambda: service.add_policy(session, body, principal), PolicyPublic)


@router.patch(
    "/{policy_id}",
    response_model=PolicyPublic,
    responses={
        404: {"description": "No such policy"},
        409: {"description": "The new period overlaps another version, or moves an end inside a closed month"},
    },
)
async def end_policy(policy_id: IdPath, body: PolicyEnd, session: SessionDep, principal: Admin) -> PolicyPublic:
    """Set a version's last day (so that a successor may start after it)."""
    return await service.end_policy(session, policy_id, body, principal)
