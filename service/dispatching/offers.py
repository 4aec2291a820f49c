"""Offers (派单) and what providers do with them: accept, decline, or let them expire.

Every move is one conditional UPDATE on the row's current status, so two apps, two replicas or two
schedulers racing for the same offer cannot both win; the partial unique index on live assignments
backs that up in the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.dispatching import quota
from service.errors import Conflict, NotFound
from service.requests.models import Assignment, ServiceRequest
from service.requests.service import transition
from service.settings import Settings
from service.visits.models import Visit

SPENT = ("declined", "expired")


def offer_timeout(settings: Settings, urgency: str) -> timedelta:
    seconds = {"emergency": settings.offer_timeout_emergency_s, "urgent": settings.offer_timeout_urgent_s}
    return timedelta(seconds=seconds.get(urgency, settings.offer_timeout_routine_s))


async def move_assignment(session: AsyncSession, assignment_id: int, *, from_: tuple[str, ...], to: str, actor: str,
                now: datetime, extra_where: tuple = (), **values: Any) -> Assignment | None:
    result = await session.exec(
        update(Assignment)
        .where(Assignment.id == assignment_id, col(Assignment.status).in_(from_), *extra_where)
        .values(status=to, updated_at=now, **values)
        .returning(Assignment.id, Assignment.request_id, Assignment.provider_id)
    )
    row = result.first()
    if row is None:
        return None
    record_change(session, actor=actor, action=f"assignment.{to}", entity="assignment", entity_id=assignment_id,
                  after={"status": to, "request_id": row.request_id, "provider_id": row.provider_id, **values}, at=now)
    return await session.get(Assignment, assignment_id, populate_existing=True)


async def excluded_providers(session: AsyncSession, request_id: int) -> set[int]:
    """Providers that declined this request or let it expire: it never goes back to them."""
    rows = await session.exec(select(Assignment.provider_id).where(
        Assignment.request_id == request_id, col(Assignment.status).in_(SPENT)))
    return set(rows.all())


async def offer(session: AsyncSession, request: ServiceRequest, provider_id: int, *, km: float | None,
                explanation: dict | None, actor: str, now: datetime, settings: Settings) -> Assignment | None:
    """Claim an open request for a provider with quota left; None (nothing written) if either is gone.

    The caller commits, or rolls back on None.
    """
    if not await transition(session, request.id, from_=("open",), to="assigned", actor=actor, now=now,
                            attempts=request.attempts + 1, explanation=explanation):
        return None
    if not await quota.take(session, provider_id, request.month):
        return None
    assignment = Assignment(request_id=request.id, provider_id=provider_id, status="offered", km=km,
                            offered_at=now, expires_at=now + offer_timeout(settings, request.urgency), updated_at=now)
    session.add(assignment)
    await session.flush()
    record_change(session, actor=actor, action="assignment.offered", entity="assignment", entity_id=assignment.id,
                  after={"status": "offered", "request_id": request.id, "provider_id": provider_id, "km": km}, at=now)
    return assignment


async def _own_assignment(session: AsyncSession, assignment_id: int, provider_id: int) -> Assignment:
    row = await session.get(Assignment, assignment_id, populate_existing=True)
    if row is None or row.provider_id != provider_id:  # another provider's offer: do not reveal it exists
        raise NotFound(f"assignment {assignment_id} does not exist")
    return row


async def accept(session: AsyncSession, assignment_id: int, provider_id: int, caregiver: str, *,
                 actor: str, now: datetime) -> Assignment:
    moved = await move_assignment(session, assignment_id, from_=("offered",), to="accepted", actor=actor, now=now,
                        extra_where=(Assignment.provider_id == provider_id, Assignment.expires_at > now),
                        caregiver=caregiver, responded_at=now)
    if moved is not None:
        await transition(session, moved.request_id, from_=("assigned",), to="accepted", actor=actor, now=now)
        await session.commit()
        return moved
    await session.rollback()
    row = await _own_assignment(session, assignment_id, provider_id)
    if row.status == "accepted" and row.caregiver == caregiver:
        return row  # the app retried: same answer
    if row.status == "offered":
        raise Conflict(f"the offer of assignment {assignment_id} expired at {row.expires_at.isoformat()}")
    raise Conflict(f"assignment {assignment_id} is {row.status}" +
                   (f" by caregiver {row.caregiver}" if row.status == "accepted" else ""))


async def reopen(session: AsyncSession, assignment: Assignment, *, actor: str, now: datetime,
                 settings: Settings) -> None:
    """After a decline or an expiry: give the quota back, and the request back to dispatch.

    Too many tries and the request becomes `unassignable`, where operators see it.
    """
    request = await session.get(ServiceRequest, assignment.request_id, populate_existing=True)
    await quota.release(session, assignment.provider_id, request.month)
    target = "unassignable" if request.attempts >= settings.max_dispatch_attempts else "open"
    await transition(session, request.id, from_=("assigned", "accepted"), to=target, actor=actor, now=now)


async def decline(session: AsyncSession, assignment_id: int, provider_id: int, reason: str, *,
                  actor: str, now: datetime, settings: Settings) -> Assignment:
    not_started = ~exists().where(Visit.assignment_id == Assignment.id)
    moved = await move_assignment(session, assignment_id, from_=("offered", "accepted"), to="declined", actor=actor, now=now,
                        extra_where=(Assignment.provider_id == provider_id, not_started),
                        reason=reason, responded_at=now)
    if moved is not None:
        await reopen(session, moved, actor=actor, now=now, settings=settings)
        await session.commit()
        return moved
    await session.rollback()
    row = await _own_assignment(session, assignment_id, provider_id)
    if row.status == "declined" and row.reason == reason:
        return row
    if row.status == "accepted":
        raise Conflict(f"assignment {assignment_id} has a visit under way and can no longer be declined")
    raise Conflict(f"assignment {assignment_id} is {row.status}")


async def expire_offers(session: AsyncSession, *, now: datetime, settings: Settings, limit: int = 500) -> int:
    """Offers not accepted in time expire; their requests go back to dispatch. Safe to run twice."""
    due = (await session.exec(select(Assignment.id).where(
        Assignment.status == "offered", col(Assignment.expires_at) <= now).order_by(Assignment.id).limit(limit))).all()
    expired = 0
    for assignment_id in due:
        moved = await move_assignment(session, assignment_id, from_=("offered",), to="expired", actor="scheduler", now=now,
                            extra_where=(col(Assignment.expires_at) <= now,))
        if moved is not None:
            await reopen(session, moved, actor="scheduler", now=now, settings=settings)
            expired += 1
        await session.commit()
    return expired


async def withdraw_active(session: AsyncSession, request: ServiceRequest, *, actor: str, now: datetime,
                          reason: str) -> None:
    """The request was cancelled: its live offer is cancelled too and the quota given back."""
    live = (await session.exec(select(Assignment.id).where(
        Assignment.request_id == request.id, col(Assignment.status).in_(("offered", "accepted"))))).first()
    if live is None:
        return
    moved = await move_assignment(session, live, from_=("offered", "accepted"), to="cancelled", actor=actor, now=now,
                        reason=reason)
    if moved is not None:
        await quota.release(session, moved.provider_id, request.month)
