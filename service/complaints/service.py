"""Complaint tickets. open (no provider concerned) | sent (to the provider) → answered (by the provider's app)
→ resolved (by an operator; from any earlier status). Each move is one conditional UPDATE; repeating a move
with the same words answers the same, other words are 409.

Services flush and never commit: the router commits (with the Idempotency-Key's answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.calls.service import log_complaint_call
from service.complaints.models import Complaint
from service.complaints.schemas import ComplaintCreate, ComplaintPublic, ProviderComplaint
from service.db import utcnow
from service.elders.models import Elder
from service.errors import Conflict, Invalid, NotFound
from service.providers.models import Provider
from service.reports.scope import ReportArea
from service.tokens.service import Principal
from service.visits.models import FollowUp, Visit

InSeat = Callable[[str | None], Awaitable[bool]]
LIVE = ("open", "sent", "answered")


def age_hours(row: Complaint, now: datetime) -> float | None:
    return None if row.status == "resolved" else round((now - row.opened_at).total_seconds() / 3600, 1)


def public(row: Complaint, now: datetime) -> ComplaintPublic:
    return ComplaintPublic(**row.model_dump(), age_hours=age_hours(row, now))


def for_provider(row: Complaint, now: datetime) -> ProviderComplaint:
    return ProviderComplaint(
        **row.model_dump(include=set(ProviderComplaint.model_fields) - {"age_hours"}), age_hours=age_hours(row, now)
    )


async def open_complaint(
    session: AsyncSession, data: ComplaintCreate, principal: Principal, *, in_seat: InSeat
) -> ComplaintPublic:
    """An operator takes a complaint on the phone (the call is logged with it). The visit or elder named must
    exist and lie in a street seat's area, else 404 (a seat learns nothing of other areas)."""
    if data.visit_id is not None:
        found = (
            await session.exec(
                select(Visit.elder_id, Visit.provider_id, Elder.area_code)
                .join(Elder, col(Elder.id) == Visit.elder_id)
                .where(Visit.id == data.visit_id)
            )
        ).first()
        if found is None or not await in_seat(found[2]):
            raise NotFound(f"visit {data.visit_id} does not exist")
        elder_id, provider_id, area_code = found
    else:
        area_code = (await session.exec(select(Elder.area_code).where(Elder.id == data.elder_id))).first()
        if area_code is None or not await in_seat(area_code):
            raise NotFound(f"elder {data.elder_id} does not exist")
        elder_id, provider_id = data.elder_id, data.provider_id
        if provider_id is not None and await session.get(Provider, provider_id) is None:
            raise Invalid.field("provider_id", f"provider {provider_id} does not exist")
    now = utcnow()
    call_id = await log_complaint_call(session, elder_id, area_code, principal, now)
    row = await _insert(
        session,
        Complaint(
            elder_id=elder_id,
            area_code=area_code,
            visit_id=data.visit_id,
            call_id=call_id,
            provider_id=provider_id,
            text=data.text,
            status="sent" if provider_id is not None else "open",
            opened_by=principal.actor,
            opened_at=now,
            updated_at=now,
        ),
        principal.actor,
    )
    return public(row, now)


async def open_from_follow_up(session: AsyncSession, follow_up: FollowUp, visit: Visit, actor: str) -> None:
    """A follow-up call that recorded a complaint opens its ticket, sent to the visit's provider."""
    area_code = (await session.exec(select(Elder.area_code).where(Elder.id == visit.elder_id))).one()
    await _insert(
        session,
        Complaint(
            elder_id=visit.elder_id,
            area_code=area_code,
            visit_id=visit.id,
            follow_up_id=follow_up.id,
            provider_id=visit.provider_id,
            text=follow_up.complaint,
            status="sent",
            opened_by=actor,
            opened_at=follow_up.created_at,
            updated_at=follow_up.created_at,
        ),
        actor,
    )


async def _insert(session: AsyncSession, row: Complaint, actor: str) -> Complaint:
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=actor,
        action="complaint.open",
        entity="complaint",
        entity_id=row.id,
        after={
            "status": row.status,
            "elder_id": row.elder_id,
            "visit_id": row.visit_id,
            "provider_id": row.provider_id,
        },
        at=row.opened_at,
    )
    return row


async def get_complaint(session: AsyncSession, complaint_id: int, *, in_seat: InSeat) -> Complaint:
    row = await session.get(Complaint, complaint_id)
    if row is None or not await in_seat(row.area_code):
        raise NotFound(f"complaint {complaint_id} does not exist")
    return row


async def _own(session: AsyncSession, complaint_id: int, provider_id: int) -> Complaint:
    row = await session.get(Complaint, complaint_id)
    if row is None or row.provider_id != provider_id:  # another provider's: the same 404
        raise NotFound(f"complaint {complaint_id} does not exist")
    return row


async def answer(session: AsyncSession, complaint_id: int, text: str, principal: Principal) -> ProviderComplaint:
    row = await _own(session, complaint_id, principal.provider_id)
    now = utcnow()
    moved = (
        await session.exec(
            update(Complaint)
            .where(Complaint.id == row.id, Complaint.status == "sent")
            .values(status="answered", answer=text, answered_by=principal.actor, answered_at=now, updated_at=now)
            .returning(Complaint.id)
        )
    ).first()
    if moved is None:
        await session.refresh(row)
        if row.answer == text:
            return for_provider(row, now)  # the same answer again: a retry
        raise Conflict(
            f"complaint {complaint_id} is {row.status}" + (" with another answer" if row.answer is not None else "")
        )
    record_change(
        session,
        actor=principal.actor,
        action="complaint.answer",
        entity="complaint",
        entity_id=row.id,
        after={"status": "answered"},
        at=now,
    )
    await session.refresh(row)
    return for_provider(row, now)


async def resolve(
    session: AsyncSession, complaint_id: int, text: str, principal: Principal, *, in_seat: InSeat
) -> ComplaintPublic:
    row = await get_complaint(session, complaint_id, in_seat=in_seat)
    now = utcnow()
    moved = (
        await session.exec(
            update(Complaint)
            .where(Complaint.id == row.id, col(Complaint.status).in_(LIVE))
            .values(status="resolved", resolution=text, resolved_by=principal.actor, resolved_at=now, updated_at=now)
            .returning(Complaint.id)
        )
    ).first()
    await session.refresh(row)
    if moved is None:
        if row.resolution == text:
            return public(row, now)
        raise Conflict(f"complaint {complaint_id} is already resolved, with another resolution")
    record_change(
        session,
        actor=principal.actor,
        action="complaint.resolve",
        entity="complaint",
        entity_id=row.id,
        after={"status": "resolved"},
        at=now,
    )
    return public(row, now)


def _listing(*, status: str | None, after: int | None, limit: int):
    query = select(Complaint).order_by(Complaint.id).limit(limit + 1)
    if status is not None:
        query = query.where(Complaint.status == status)
    if after is not None:
        query = query.where(col(Complaint.id) > after)
    return query


async def list_complaints(
    session: AsyncSession,
    *,
    area: ReportArea,
    status: str | None,
    provider_id: int | None,
    elder_id: int | None,
    after: int | None,
    limit: int,
) -> list[Complaint]:
    query = _listing(status=status, after=after, limit=limit)
    if area.prefixes:
        query = query.where(area.covers(col(Complaint.area_code)))
    if provider_id is not None:
        query = query.where(Complaint.provider_id == provider_id)
    if elder_id is not None:
        query = query.where(Complaint.elder_id == elder_id)
    return list((await session.exec(query)).all())


async def provider_complaints(
    session: AsyncSession, provider_id: int, *, status: str | None, after: int | None, limit: int
) -> list[Complaint]:
    query = _listing(status=status, after=after, limit=limit).where(Complaint.provider_id == provider_id)
    return list((await session.exec(query)).all())


async def provider_month_counts(session: AsyncSession, start: datetime, end: datetime) -> dict[int, int]:
    """Provider -> complaints about it opened in [start, end): an input of its quality score."""
    rows = (
        await session.exec(
            select(Complaint.provider_id, func.count())
            .where(
                col(Complaint.provider_id).is_not(None),
                col(Complaint.opened_at) >= start,
                col(Complaint.opened_at) < end,
            )
            .group_by(Complaint.provider_id)
        )
    ).all()
    return {pid: int(n) for pid, n in rows}


async def month_counts(session: AsyncSession, area: ReportArea, start: datetime, end: datetime) -> tuple[int, int]:
    """(opened, resolved) in [start, end) in the area: the monthly summary's."""

    def counted(moment):
        query = select(func.count()).select_from(Complaint).where(col(moment) >= start, col(moment) < end)
        return query.where(area.covers(col(Complaint.area_code))) if area.prefixes else query

    opened = (await session.exec(counted(Complaint.opened_at))).one()
    resolved = (await session.exec(counted(Complaint.resolved_at))).one()
    return int(opened), int(resolved)
