"""Complaint tickets: operators open and resolve, providers answer their own, regulators read their area's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import ProviderApp, RegistryReader, Staff
from service.catalogue import ComplaintStatus
from service.complaints import service
from service.complaints.schemas import (
    ComplaintAnswer,
    ComplaintCreate,
    ComplaintPublic,
    ComplaintResolve,
    ProviderComplaint,
)
from service.db import utcnow
from service.deps import SessionDep
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.reports.scope import AreaQuery
from service.schemas import Page
from service.seats import checker, seat_area
from service.validation import IdPath, IdQuery

router = APIRouter(prefix="/api/v1", tags=["complaints"])
NOT_FOUND = {404: {"description": "No such complaint (or not in your area, or not yours)"}}
StatusQuery = Annotated[ComplaintStatus | None, Query(description="Only complaints in this status")]


@router.post(
    "/complaints",
    status_code=201,
    response_model=ComplaintPublic,
    responses={
        404: {"description": "No such visit or elder (or outside a street seat's area)"},
        409: {"description": "The Idempotency-Key is in flight"},
        422: {"description": "A field is invalid"},
    },
)
async def open_complaint(body: ComplaintCreate, session: SessionDep, principal: Staff, idempotency: IdempotencyDep):
    """Take a complaint (the call is logged with it); sent at once to the provider concerned, if any."""
    in_seat = checker(session, principal)
    return await idempotency.run(
        body, lambda: service.open_complaint(session, body, principal, in_seat=in_seat), ComplaintPublic
    )


@router.get("/complaints", response_model=Page[ComplaintPublic], responses={422: {"description": "Bad query"}})
async def list_complaints(
    session: SessionDep,
    principal: RegistryReader,
    status: StatusQuery = None,
    area: AreaQuery = None,
    provider_id: IdQuery = None,
    elder_id: IdQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ComplaintPublic]:
    """By id; a regulator's (and a street seat's) within its area; open ones show their age."""
    position = decode_cursor(cursor, "after")
    scope = await seat_area(session, principal, area)
    rows = await service.list_complaints(
        session,
        area=scope,
        status=status,
        provider_id=provider_id,
        elder_id=elder_id,
        after=position["after"] if position else None,
        limit=limit,
    )
    now = utcnow()
    return Page(items=[service.public(r, now) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.get("/complaints/{complaint_id}", response_model=ComplaintPublic, responses=NOT_FOUND)
async def get_complaint(complaint_id: IdPath, session: SessionDep, principal: RegistryReader) -> ComplaintPublic:
    in_seat = checker(session, principal)
    return service.public(await service.get_complaint(session, complaint_id, in_seat=in_seat), utcnow())


@router.post(
    "/complaints/{complaint_id}/resolve",
    response_model=ComplaintPublic,
    responses={**NOT_FOUND, 409: {"description": "Already resolved with another resolution"}},
)
async def resolve(
    complaint_id: IdPath, body: ComplaintResolve, session: SessionDep, principal: Staff
) -> ComplaintPublic:
    in_seat = checker(session, principal)
    return await service.resolve(session, complaint_id, body.resolution, principal, in_seat=in_seat)


@router.get("/provider/complaints", response_model=Page[ProviderComplaint])
async def provider_complaints(
    session: SessionDep,
    principal: ProviderApp,
    status: StatusQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProviderComplaint]:
    """The complaints sent to this provider, by id."""
    position = decode_cursor(cursor, "after")
    rows = await service.provider_complaints(
        session, principal.provider_id, status=status, after=position["after"] if position else None, limit=limit
    )
    now = utcnow()
    return Page(items=[service.for_provider(r, now) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.post(
    "/provider/complaints/{complaint_id}/answer",
    response_model=ProviderComplaint,
    responses={**NOT_FOUND, 409: {"description": "Already answered (with other words) or resolved, or not sent"}},
)
async def answer(
    complaint_id: IdPath, body: ComplaintAnswer, session: SessionDep, principal: ProviderApp
) -> ProviderComplaint:
    """The provider's answer; the same answer again is 200 (apps resend on a bad network)."""
    return await service.answer(session, complaint_id, body.answer, principal)
