"""Offers (派单) and what providers do with them: accept, decline, or let them expire.

Every move is one conditional UPDATE on the row's current status, so two apps, two replicas or two
schedulers racing for the same offer cannot both win; the partial unique index on live assignments
backs that up in the database.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEvent
from service.audit.service import audit_row, record_change
from service.dispatching import faults, quota
from service.dispatching.bulk import chunks
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
    return (await excluded_for(session, [request_id])).get(request_id, set())


async def excluded_for(session: AsyncSession, request_ids: list[int]) -> dict[int, set[int]]:
    """`excluded_providers` of several requests at once (those with none are left out)."""
    excluded: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(request_ids):
        rows = await session.exec(select(Assignment.request_id, Assignment.provider_id).where(
            col(Assignment.request_id).in_(chunk), col(Assignment.status).in_(SPENT)))
        for request_id, provider_id in rows.all():
            excluded[request_id].add(provider_id)
    return excluded


@dataclass(frozen=True)
class Offer:
    """One open request to offer to one provider, with the engine's reasons."""

    request_id: int
    provider_id: int
    month: str
    urgency: str
    km: float | None
    explanation: dict | None
    planned_date: date | None = None


@dataclass(frozen=True)
class Offered:
    assignments: dict[int, int]  # request id -> its new assignment's id
    full: set[tuple[str, int]]  # (month, provider) whose quota could not take its share: those offers not made


async def offer_many(session: AsyncSession, wanted: list[Offer], *, actor: str, now: datetime,
                     settings: Settings) -> Offered:
    """Offer each request to its provider, in the session's transaction and a handful of statements
    whatever their number: a provider's share of the quota is taken all at once or not at all (its offers
    are then left out), and a request no longer open (cancelled, or taken by a twin dispatcher) is left
    out and its unit given back. The caller commits.
    """
    by_quota: dict[str, Counter] = defaultdict(Counter)
    for o in wanted:
        by_quota[o.month][o.provider_id] += 1
    granted = {(month, p) for month, visits in by_quota.items()
               for p in await quota.take_many(session, month, visits)}
    full = {(month, p) for month, visits in by_quota.items() for p in visits} - granted
    offers = [o for o in wanted if (o.month, o.provider_id) in granted]
    attempts = await claim_open(session, {o.request_id: o.explanation for o in offers}, to="assigned", now=now,
                                days={o.request_id: o.planned_date for o in offers if o.planned_date})
    unclaimed = Counter((o.month, o.provider_id) for o in offers if o.request_id not in attempts)
    for (month, provider_id), visits in unclaimed.items():
        await quota.release(session, provider_id, month, visits)
    offers = [o for o in offers if o.request_id in attempts]
    if not offers:
        return Offered({}, full)
    connection = await session.connection()
    assignments: dict[int, int] = {}
    for chunk in chunks(offers):
        rows = await connection.execute(_NEW_ASSIGNMENTS, [
            {"request_id": o.request_id, "provider_id": o.provider_id, "status": "offered", "km": o.km,
             "offered_at": now, "expires_at": now + offer_timeout(settings, o.urgency), "updated_at": now}
            for o in chunk])
        assignments.update((request_id, assignment_id) for assignment_id, request_id in rows.all())
    events = []
    for o in offers:
        events.append(audit_row(actor=actor, action="request.status", entity="service_request",
                                entity_id=o.request_id, at=now,
                                after={"status": "assigned", "attempts": attempts[o.request_id]}))
        events.append(audit_row(actor=actor, action="assignment.offered", entity="assignment",
                                entity_id=assignments[o.request_id], at=now, after={
                                    "status": "offered", "request_id": o.request_id, "provider_id": o.provider_id,
                                    "km": o.km}))
    for chunk in chunks(events):
        await connection.execute(_NEW_EVENTS, chunk)
    return Offered(assignments, full)


async def claim_open(session: AsyncSession, explanations: dict[int, dict | None], *, to: str, now: datetime,
                     days: dict[int, date] | None = None) -> dict[int, int]:
    """Move the requests still open to `to`, as dispatch tries them, with their dispatch explanations and,
    for planned visits, their days (a re-offer keeps the day it had): id -> tries so far, this one included,
    of the requests moved (the others were no longer open)."""
    days = days or {}
    connection = await session.connection()
    attempts: dict[int, int] = {}
    if connection.dialect.name == "postgresql":
        # One statement per chunk over arrays (unnest), the move and the reasons together: each UPDATE of a
        # request writes a new version of its row and of every index entry, the plan's costliest write.
        for chunk in chunks(list(explanations)):
            rows = await connection.execute(_CLAIM_OPEN_PG, {
                "ids": chunk, "days": [days.get(r) for r in chunk], "to": to, "now": now,
                "reasons": [None if explanations[r] is None else json.dumps(explanations[r]) for r in chunk]})
            attempts.update(rows.all())
        return attempts
    for chunk in chunks(list(explanations)):
        rows = await connection.execute(_CLAIM_OPEN, {"ids": chunk, "to": to, "now": now})
        attempts.update(rows.all())
    params = [{"request_id": r, "reason": explanations[r], "day": days.get(r)} for r in attempts]
    for chunk in chunks(params):
        await connection.execute(_SET_REASONS, chunk)
    return attempts


# The statements of many offers, built once on the tables and run on the session's connection: through
# the ORM session each cost several times as much, for nothing the ORM adds here.
_REQUESTS = ServiceRequest.__table__
_CLAIM_OPEN = (update(_REQUESTS)
               .where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)), _REQUESTS.c.status == "open")
               .values(status=bindparam("to"), attempts=_REQUESTS.c.attempts + 1,
                       updated_at=bindparam("now", type_=_REQUESTS.c.updated_at.type))
               .returning(_REQUESTS.c.id, _REQUESTS.c.attempts))
# One statement sent with a row of parameters per request (executemany).
_SET_REASONS = (update(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_id"))
                .values(explanation=bindparam("reason", type_=_REQUESTS.c.explanation.type),
                        planned_date=func.coalesce(bindparam("day", type_=_REQUESTS.c.planned_date.type),
                                                   _REQUESTS.c.planned_date)))
_CLAIM_OPEN_PG = text(
    "UPDATE service_request AS r SET status = CAST(:to AS VARCHAR), attempts = r.attempts + 1, "
    "updated_at = CAST(:now AS TIMESTAMPTZ), explanation = CAST(t.reason AS JSON), "
    "planned_date = COALESCE(t.day, r.planned_date) "
    "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:reasons AS TEXT[]), CAST(:days AS DATE[])) AS t(id, reason, day) "
    "WHERE r.id = t.id AND r.status = 'open' RETURNING r.id, r.attempts")
_ASSIGNMENTS = Assignment.__table__
_NEW_ASSIGNMENTS = insert(_ASSIGNMENTS).returning(_ASSIGNMENTS.c.id, _ASSIGNMENTS.c.request_id)
_NEW_EVENTS = insert(AuditEvent.__table__)


async def offer(session: AsyncSession, request: ServiceRequest, provider_id: int, *, km: float | None,
                explanation: dict | None, actor: str, now: datetime, settings: Settings) -> Assignment | None:
    """Claim an open request for a provider with quota left; None (nothing written) if either is gone.

    The caller commits.
    """
    offered = await offer_many(session, [Offer(request.id, provider_id, request.month, request.urgency, km,
                                               explanation)], actor=actor, now=now, settings=settings)
    if not offered.assignments:
        return None
    return await session.get(Assignment, offered.assignments[request.id])


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


async def expire_offers(session: AsyncSession, *, now: datetime, settings: Settings, limit: int = 500,
                        skip: set[int] | None = None) -> int:
    """Offers not accepted in time expire; their requests go back to dispatch. Safe to run twice.

    Each offer in a transaction of its own: one that fails for its own sake has its request set aside
    (faults.py) and is passed by in the runs that follow (`skip`, kept by the caller)."""
    skip = set() if skip is None else skip
    query = select(Assignment.id).where(Assignment.status == "offered", col(Assignment.expires_at) <= now)
    if skip:
        query = query.where(col(Assignment.id).not_in(skip))
    due = (await session.exec(query.order_by(Assignment.id).limit(limit))).all()

    async def expire(assignment_id: int) -> bool:
        moved = await move_assignment(session, assignment_id, from_=("offered",), to="expired", actor="scheduler",
                                      now=now, extra_where=(col(Assignment.expires_at) <= now,))
        if moved is not None:
            await reopen(session, moved, actor="scheduler", now=now, settings=settings)
        return moved is not None

    async def set_request_aside(assignment_id: int, exc: BaseException) -> None:
        request_id = (await session.exec(select(Assignment.request_id).where(Assignment.id == assignment_id))).one()
        await faults.set_aside(session, [request_id], exc, actor="scheduler", now=now,
                               from_=("open", "assigned", "accepted"))

    return await faults.each_alone(session, due, expire, job="offer expiry", entity="assignment", skip=skip,
                                   mark=set_request_aside)


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
