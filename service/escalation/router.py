"""Operators' escalation queue, a request's candidates, and an assignment by hand (docs/api.md § Escalation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.auth import Staff
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.escalation import service
from service.escalation.schemas import AssignBody, Candidates, EscalationQueue
from service.idempotency.service import IdempotencyDep
from service.requests.schemas import RequestDetail
from service.requests.service import request_detail
from service.validation import IdPath

router = APIRouter(prefix="/api/v1", tags=["escalation"])
NOT_FOUND = {404: {"description": "No such request (or provider)"}}


@router.get("/escalations", response_model=EscalationQueue)
async def escalation_queue(
    session: SessionDep, _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> EscalationQueue:
    return EscalationQueue(items=await service.queue(session, now=utcnow(), limit=limit))


@router.get("/requests/{request_id}/candidates", response_model=Candidates, responses=NOT_FOUND)
async def request_candidates(request_id: IdPath, session: SessionDep, _: Staff, settings: SettingsDep) -> Candidates:
    return await service.candidates(session, request_id, settings)


@router.post(
    "/requests/{request_id}/assign",
    response_model=RequestDetail,
    responses={
        **NOT_FOUND,
        409: {"description": "Accepted, under way or closed already"},
        422: {"description": "The provider may not take it (no override)"},
    },
)
async def assign(
    request_id: IdPath,
    body: AssignBody,
    request: Request,
    session: SessionDep,
    principal: Staff,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
):
    async def run():
        row = await service.assign(session, request_id, body, principal, settings, now=utcnow())
        await session.refresh(row)
        return await request_detail(session, row)

    return await idempotency.run(body, run, RequestDetail, status_code=200)
