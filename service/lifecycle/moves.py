"""The moves of requests and of their assignments (派单): claim and offer, accept, decline, expire, withdraw,
start, complete, miss, cancel.

Every move is one conditional UPDATE … WHERE status IN (its sources in transitions.py) … RETURNING, so two
apps, two replicas or two schedulers racing for the same row cannot both win; the partial unique index on
live assignments backs that up in the database. A move that finds its row elsewhere writes nothing.

Nothing here commits: the request's session dependency (service/deps.py) or the job that called it does, so
a move and whatever else its caller writes (an Idempotency-Key's answer, a visit) land together.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, insert, text, update
from sqlalchemy.sql.dml import ReturningUpdate
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEvent
from service.audit.service import audit_row, record_change
from service.bulk import chunks
from service.errors import Conflict, NotFound
from service.lifecycle import quota
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import (
    LIVE_ASSIGNMENT,
    SPENT_ASSIGNMENT,
    AssignmentStatus,
    Move,
    RequestStatus,
    Transition,
    assignment_move,
    in_order,
    request_move,
)
from service.settings import Settings
from service.visits.models import Visit

Explanation = dict[str, Any]


def request_update(
    request_id: int,
    transition: Transition[RequestStatus],
    now: datetime,
    where: tuple[ColumnElement[bool], ...] = (),
    **values: Any,
) -> ReturningUpdate[int | None]:
    """The one statement of a request's move: UPDATE … WHERE id AND status IN (sources) AND `where` …
    RETURNING id."""
    return (
        update(ServiceRequest)
        .where(
            col(ServiceRequest.id) == request_id, col(ServiceRequest.status).in_(in_order(transition.sources)), *where
        )
        .values(status=transition.target.value, updated_at=now, **values)
        .returning(col(ServiceRequest.id))
    )


def assignment_update(
    assignment_id: int,
    transition: Transition[AssignmentStatus],
    now: datetime,
    where: tuple[ColumnElement[bool], ...] = (),
    **values: Any,
) -> ReturningUpdate[int | None, int, int]:
    """The one statement of an assignment's move: UPDATE … WHERE id AND status IN (sources) AND `where` …
    RETURNING what its audit event names."""
    return (
        update(Assignment)
        .where(col(Assignment.id) == assignment_id, col(Assignment.status).in_(in_order(transition.sources)), *where)
        .values(status=transition.target.value, updated_at=now, **values)
        .returning(col(Assignment.id), col(Assignment.request_id), col(Assignment.provider_id))
    )


async def move_request(
    session: AsyncSession,
    request_id: int,
    move: Move,
    *,
    actor: str,
    now: datetime,
    only_from: frozenset[RequestStatus] | None = None,
    where: tuple[ColumnElement[bool], ...] = (),
    **values: Any,
) -> bool:
    """The request's part of `move` (narrowed to `only_from`, on the further conditions `where`), with its
    audit event; False, nothing written, if the request was not in one of its sources."""
    transition = request_move(move, only_from)
    result = await session.exec(request_update(request_id, transition, now, where, **values))
    if result.first() is None:
        return False
    record_change(
        session,
        actor=actor,
        action="request.status",
        entity="service_request",
        entity_id=request_id,
        after={"status": transition.target.value, **{k: v for k, v in values.items() if k != "explanation"}},
        at=now,
    )
    return True


async def move_assignment(
    session: AsyncSession,
    assignment_id: int,
    move: Move,
    *,
    actor: str,
    now: datetime,
    where: tuple[ColumnElement[bool], ...] = (),
    **values: Any,
) -> Assignment | None:
    """The assignment's part of `move` (on the further conditions `where`), with its audit event: the row
    moved, or None, nothing written, if it was not in one of the move's sources."""
    transition = assignment_move(move)
    result = await session.exec(assignment_update(assignment_id, transition, now, where, **values))
    row = result.first()
    if row is None:
        return None
    record_change(
        session,
        actor=actor,
        action=f"assignment.{transition.target}",
        entity="assignment",
        entity_id=assignment_id,
        at=now,
        after={
            "status": transition.target.value,
            "request_id": row.request_id,
            "provider_id": row.provider_id,
            **values,
        },
    )
    return await session.get(Assignment, assignment_id, populate_existing=True)


def offer_timeout(settings: Settings, urgency: str) -> timedelta:
    seconds = {"emergency": settings.offer_timeout_emergency_s, "urgent": settings.offer_timeout_urgent_s}
    return timedelta(seconds=seconds.get(urgency, settings.offer_timeout_routine_s))


async def excluded_providers(session: AsyncSession, request_id: int) -> set[int]:
    """Providers that declined this request or let it expire: it never goes back to them."""
    return (await excluded_for(session, [request_id])).get(request_id, set())


async def excluded_for(session: AsyncSession, request_ids: list[int]) -> dict[int, set[int]]:
    """`excluded_providers` of several requests at once (those with none are left out)."""
    excluded: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(request_ids):
        rows = await session.exec(
            select(Assignment.request_id, Assignment.provider_id).where(
                col(Assignment.request_id).in_(chunk), col(Assignment.status).in_(in_order(SPENT_ASSIGNMENT))
            )
        )
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
    explanation: Explanation | None
    planned_date: date | None = None


@dataclass(frozen=True)
class Offered:
    assignments: dict[int, int]  # request id -> its new assignment's id
    full: set[tuple[str, int]]  # (month, provider) whose quota could not take its share: those offers not made


async def offer_many(
    session: AsyncSession, wanted: list[Offer], *, actor: str, now: datetime, settings: Settings
) -> Offered:
    """Claim each request and offer it to its provider, in the session's transaction and a handful of
    statements whatever their number: a provider's share of the quota is taken all at once or not at all
    (its offers are then left out), and a request no longer open (cancelled, or taken by a twin dispatcher)
    is left out and its unit given back."""
    by_quota: dict[str, Counter[int]] = defaultdict(Counter)
    for o in wanted:
        by_quota[o.month][o.provider_id] += 1
    granted = {(month, p) for month, visits in by_quota.items() for p in await quota.take_many(session, month, visits)}
    full = {(month, p) for month, visits in by_quota.items() for p in visits} - granted
    offers = [o for o in wanted if (o.month, o.provider_id) in granted]
    attempts = await move_open(
        session,
        {o.request_id: o.explanation for o in offers},
        Move.CLAIM,
        now=now,
        days={o.request_id: o.planned_date for o in offers if o.planned_date},
    )
    unclaimed = Counter((o.month, o.provider_id) for o in offers if o.request_id not in attempts)
    for (month, provider_id), visits in unclaimed.items():
        await quota.release(session, provider_id, month, visits)
    offers = [o for o in offers if o.request_id in attempts]
    if not offers:
        return Offered({}, full)
    connection = await session.connection()
    offered = assignment_move(Move.OFFER).target.value
    assignments: dict[int, int] = {}
    for chunk in chunks(offers):
        rows = await connection.execute(
            _NEW_ASSIGNMENTS,
            [
                {
                    "request_id": o.request_id,
                    "provider_id": o.provider_id,
                    "status": offered,
                    "km": o.km,
                    "offered_at": now,
                    "expires_at": now + offer_timeout(settings, o.urgency),
                    "updated_at": now,
                }
                for o in chunk
            ],
        )
        assignments.update((request_id, assignment_id) for assignment_id, request_id in rows.all())
    claimed = request_move(Move.CLAIM).target.value
    events = []
    for o in offers:
        events.append(
            audit_row(
                actor=actor,
                action="request.status",
                entity="service_request",
                entity_id=o.request_id,
                at=now,
                after={"status": claimed, "attempts": attempts[o.request_id]},
            )
        )
        events.append(
            audit_row(
                actor=actor,
                action=f"assignment.{offered}",
                entity="assignment",
                entity_id=assignments[o.request_id],
                at=now,
                after={"status": offered, "request_id": o.request_id, "provider_id": o.provider_id, "km": o.km},
            )
        )
    for event_chunk in chunks(events):
        await connection.execute(_NEW_EVENTS, event_chunk)
    return Offered(assignments, full)


async def move_open(
    session: AsyncSession,
    explanations: Mapping[int, Explanation | None],
    move: Move,
    *,
    now: datetime,
    days: Mapping[int, date | None] | None = None,
) -> dict[int, int]:
    """Move the requests still open (CLAIM: to be offered; NOBODY: nobody may take them), counting a
    dispatch try, with their dispatch explanations and, for planned visits, their days (a re-offer keeps the
    day it had): id -> tries so far, this one included, of the requests moved (the others were no longer
    open). The audit events are the caller's (offer_many writes them with its offers')."""
    transition = request_move(move)
    if transition.sources != {RequestStatus.OPEN}:
        raise ValueError(f"{move} does not move open requests")
    days = days or {}
    connection = await session.connection()
    attempts: dict[int, int] = {}
    to = transition.target.value
    if connection.dialect.name == "postgresql":
        # One statement per chunk over arrays (unnest), the move and the reasons together: each UPDATE of a
        # request writes a new version of its row and of every index entry, the plan's costliest write.
        for chunk in chunks(list(explanations)):
            rows = await connection.execute(
                _CLAIM_OPEN_PG,
                {
                    "ids": chunk,
                    "days": [days.get(r) for r in chunk],
                    "to": to,
                    "now": now,
                    "reasons": [None if explanations[r] is None else json.dumps(explanations[r]) for r in chunk],
                },
            )
            attempts.update((r.id, r.attempts) for r in rows.all())
        return attempts
    for chunk in chunks(list(explanations)):
        rows = await connection.execute(_CLAIM_OPEN, {"ids": chunk, "to": to, "now": now})
        attempts.update((r.id, r.attempts) for r in rows.all())
    params = [{"request_id": r, "reason": explanations[r], "day": days.get(r)} for r in attempts]
    for param_chunk in chunks(params):
        await connection.execute(_SET_REASONS, param_chunk)
    return attempts


# The statements of many offers, built once on the tables and run on the session's connection: through
# the ORM session each cost several times as much, for nothing the ORM adds here.
_REQUESTS = ServiceRequest.__table__  # type: ignore[attr-defined]
_OPEN = RequestStatus.OPEN.value
_CLAIM_OPEN = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)), _REQUESTS.c.status == _OPEN)
    .values(
        status=bindparam("to"),
        attempts=_REQUESTS.c.attempts + 1,
        updated_at=bindparam("now", type_=_REQUESTS.c.updated_at.type),
    )
    .returning(_REQUESTS.c.id, _REQUESTS.c.attempts)
)
# One statement sent with a row of parameters per request (executemany).
_SET_REASONS = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"))
    .values(
        explanation=bindparam("reason", type_=_REQUESTS.c.explanation.type),
        planned_date=func.coalesce(bindparam("day", type_=_REQUESTS.c.planned_date.type), _REQUESTS.c.planned_date),
    )
)
_CLAIM_OPEN_PG = text(
    "UPDATE service_request AS r SET status = CAST(:to AS VARCHAR), attempts = r.attempts + 1, "
    "updated_at = CAST(:now AS TIMESTAMPTZ), explanation = CAST(t.reason AS JSON), "
    "planned_date = COALESCE(t.day, r.planned_date) "
    "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:reasons AS TEXT[]), CAST(:days AS DATE[])) AS t(id, reason, day) "
    f"WHERE r.id = t.id AND r.status = '{_OPEN}' RETURNING r.id, r.attempts"
)
_ASSIGNMENTS = Assignment.__table__  # type: ignore[attr-defined]
_NEW_ASSIGNMENTS = insert(_ASSIGNMENTS).returning(_ASSIGNMENTS.c.id, _ASSIGNMENTS.c.request_id)
_NEW_EVENTS = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


async def offer(
    session: AsyncSession,
    request: ServiceRequest,
    provider_id: int,
    *,
    km: float | None,
    explanation: Explanation | None,
    actor: str,
    now: datetime,
    settings: Settings,
) -> Assignment | None:
    """Claim an open request for a provider with quota left; None (nothing written) if either is gone."""
    assert request.id is not None
    offered = await offer_many(
        session,
        [Offer(request.id, provider_id, request.month, request.urgency, km, explanation)],
        actor=actor,
        now=now,
        settings=settings,
    )
    if not offered.assignments:
        return None
    return await session.get(Assignment, offered.assignments[request.id])


async def offer_also(
    session: AsyncSession,
    request: ServiceRequest,
    wanted: list[tuple[int, float | None]],
    *,
    explanation: Explanation | None,
    actor: str,
    now: datetime,
    settings: Settings,
    beyond_quota: bool = False,
    reason: str | None = None,
) -> list[Assignment]:
    """Offer a request already offered (or handed over by an operator) to more providers, (provider, km)
    each, those with a quota unit left (all of them `beyond_quota`); the request's status is its caller's
    business. Each offer holds its unit until it is accepted, or withdrawn, declined or expired."""
    assert request.id is not None
    if beyond_quota:
        for provider_id, _ in wanted:
            await quota.take_beyond_quota(session, provider_id, request.month)
        granted = {p for p, _ in wanted}
    else:
        granted = await quota.take_many(session, request.month, Counter(p for p, _ in wanted))
    rows = [
        Assignment(
            request_id=request.id,
            provider_id=p,
            status=assignment_move(Move.OFFER).target.value,
            km=km,
            offered_at=now,
            expires_at=now + offer_timeout(settings, request.urgency),
            updated_at=now,
            reason=reason,
        )
        for p, km in wanted
        if p in granted
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        record_change(
            session,
            actor=actor,
            action=f"assignment.{row.status}",
            entity="assignment",
            entity_id=row.id,
            at=now,
            after={
                "status": row.status,
                "request_id": request.id,
                "provider_id": row.provider_id,
                "km": row.km,
                **({"reason": reason} if reason else {}),
            },
        )
    if explanation is not None:
        await session.exec(
            update(ServiceRequest)
            .where(col(ServiceRequest.id) == request.id)
            .values(explanation=explanation, updated_at=now)
        )
    return rows


async def _own_assignment(session: AsyncSession, assignment_id: int, provider_id: int) -> Assignment:
    row = await session.get(Assignment, assignment_id, populate_existing=True)
    if row is None or row.provider_id != provider_id:  # another provider's offer: do not reveal it exists
        raise NotFound(f"assignment {assignment_id} does not exist")
    return row


async def accept(
    session: AsyncSession, assignment_id: int, provider_id: int, caregiver: str, *, actor: str, now: datetime
) -> Assignment:
    """The provider takes its offer, naming the caregiver; the same answer again if the app retries; 409 if
    the offer lapsed or went elsewhere.

    The request moves first (assigned or escalated -> accepted, on the condition that this offer is still
    open to this provider): of two providers offered the same emergency who accept at once, the second waits
    on the request's row, finds it accepted and gets 409; the first, in the same transaction, withdraws the
    other offers (and gives their quota units back). Requests first, then assignments: one lock order."""
    request_id = (await session.exec(select(Assignment.request_id).where(col(Assignment.id) == assignment_id))).first()
    open_offer = exists().where(
        col(Assignment.id) == assignment_id,
        col(Assignment.provider_id) == provider_id,
        col(Assignment.status) == AssignmentStatus.OFFERED,
        col(Assignment.expires_at) > now,
        col(Assignment.request_id) == col(ServiceRequest.id),
    )
    if request_id is not None and await move_request(
        session, request_id, Move.ACCEPT, actor=actor, now=now, where=(open_offer,)
    ):
        moved = await move_assignment(
            session,
            assignment_id,
            Move.ACCEPT,
            actor=actor,
            now=now,
            where=(col(Assignment.provider_id) == provider_id,),
            caregiver=caregiver,
            responded_at=now,
        )
        assert moved is not None  # the request's row, locked first, keeps its offers as they were
        month = (await session.exec(select(ServiceRequest.month).where(col(ServiceRequest.id) == request_id))).one()
        await withdraw(
            session, request_id, month, actor=actor, now=now, reason=TAKEN_BY_ANOTHER, only=AssignmentStatus.OFFERED
        )
        return moved
    row = await _own_assignment(session, assignment_id, provider_id)
    if row.status == AssignmentStatus.ACCEPTED and row.caregiver == caregiver:
        return row  # the app retried: same answer
    if row.status == AssignmentStatus.OFFERED and row.expires_at is not None and row.expires_at <= now:
        raise Conflict(f"the offer of assignment {assignment_id} expired at {row.expires_at.isoformat()}")
    if row.status == AssignmentStatus.OFFERED:
        raise Conflict(f"request {row.request_id} was taken by another provider")
    raise Conflict(
        f"assignment {assignment_id} is {row.status}"
        + (f" by caregiver {row.caregiver}" if row.status == AssignmentStatus.ACCEPTED else "")
    )


TAKEN_BY_ANOTHER = "accepted by another provider"


async def live_offers(session: AsyncSession, request_id: int) -> int:
    """How many offers of the request are still open."""
    return (
        await session.exec(
            select(func.count())
            .select_from(Assignment)
            .where(col(Assignment.request_id) == request_id, col(Assignment.status) == AssignmentStatus.OFFERED)
        )
    ).one()


async def _reopen(
    session: AsyncSession, assignment: Assignment, *, actor: str, now: datetime, settings: Settings
) -> None:
    """After a decline or an expiry: give the quota back, and the request back to dispatch.

    Too many tries and the request becomes `unassignable`, where operators see it.
    """
    request = await session.get(ServiceRequest, assignment.request_id, populate_existing=True)
    assert request is not None and request.id is not None
    await quota.release(session, assignment.provider_id, request.month)
    if await live_offers(session, request.id):
        return  # an emergency offered to several at once: the others may still accept
    exhausted = request.attempts >= settings.max_dispatch_attempts
    if exhausted and request.urgency == "emergency":
        await escalate(session, request.id, actor=actor, now=now)
        return
    await move_request(session, request.id, Move.EXHAUST if exhausted else Move.REOPEN, actor=actor, now=now)


async def escalate(
    session: AsyncSession, request_id: int, *, actor: str, now: datetime, explanation: Explanation | None = None
) -> bool:
    """An emergency not accepted in time, or that nobody may take, goes to the operators' escalation queue
    (its open offers stay: the first provider to accept still takes it); False if it was accepted, done or
    escalated meanwhile."""
    values: dict[str, Any] = {"escalated_at": now}
    if explanation is not None:
        values["explanation"] = explanation
    return await move_request(session, request_id, Move.ESCALATE, actor=actor, now=now, **values)


async def lock_request_of(session: AsyncSession, assignment_id: int) -> None:
    """Lock the assignment's request row before the assignment's (PostgreSQL; SQLite writes one at a time):
    the order `accept` takes them in, so that a decline or an expiry racing an accept cannot deadlock it."""
    request_id = select(Assignment.request_id).where(col(Assignment.id) == assignment_id).scalar_subquery()
    await session.exec(select(ServiceRequest.id).where(col(ServiceRequest.id) == request_id).with_for_update())


async def decline(
    session: AsyncSession,
    assignment_id: int,
    provider_id: int,
    reason: str,
    *,
    actor: str,
    now: datetime,
    settings: Settings,
) -> Assignment:
    """The provider turns its offer down (or gives up an accepted one before any visit began)."""
    await lock_request_of(session, assignment_id)
    not_started = ~exists().where(col(Visit.assignment_id) == col(Assignment.id))
    moved = await move_assignment(
        session,
        assignment_id,
        Move.DECLINE,
        actor=actor,
        now=now,
        where=(col(Assignment.provider_id) == provider_id, not_started),
        reason=reason,
        responded_at=now,
    )
    if moved is not None:
        await _reopen(session, moved, actor=actor, now=now, settings=settings)
        return moved
    row = await _own_assignment(session, assignment_id, provider_id)
    if row.status == AssignmentStatus.DECLINED and row.reason == reason:
        return row
    if row.status == AssignmentStatus.ACCEPTED:
        raise Conflict(f"assignment {assignment_id} has a visit under way and can no longer be declined")
    raise Conflict(f"assignment {assignment_id} is {row.status}")


async def expire(session: AsyncSession, assignment_id: int, *, now: datetime, settings: Settings) -> bool:
    """An offer not accepted in time lapses and its request goes back to dispatch; False if it was taken
    (or had lapsed) meanwhile."""
    await lock_request_of(session, assignment_id)
    moved = await move_assignment(
        session, assignment_id, Move.EXPIRE, actor="scheduler", now=now, where=(col(Assignment.expires_at) <= now,)
    )
    if moved is not None:
        await _reopen(session, moved, actor="scheduler", now=now, settings=settings)
    return moved is not None


async def due_to_expire(session: AsyncSession, *, now: datetime, limit: int, skip: set[int]) -> list[int]:
    """Offers whose time is up, oldest first (`skip`: those the job passes by)."""
    query = select(Assignment.id).where(
        col(Assignment.status).in_(in_order(assignment_move(Move.EXPIRE).sources)), col(Assignment.expires_at) <= now
    )
    if skip:
        query = query.where(col(Assignment.id).not_in(skip))
    return [i for i in (await session.exec(query.order_by(col(Assignment.id)).limit(limit))).all() if i is not None]


async def withdraw(
    session: AsyncSession,
    request_id: int,
    month: str,
    *,
    actor: str,
    now: datetime,
    reason: str,
    only: AssignmentStatus | None = None,
) -> int:
    """The request was cancelled or missed (or taken by one of the providers it was offered to: `only`
    OFFERED): its live offers are withdrawn and their quota units given back; how many."""
    statuses = (only,) if only is not None else in_order(LIVE_ASSIGNMENT)
    live = (
        await session.exec(
            select(Assignment.id)
            .where(col(Assignment.request_id) == request_id, col(Assignment.status).in_(statuses))
            .order_by(col(Assignment.id))
        )
    ).all()
    withdrawn = 0
    for assignment_id in live:
        assert assignment_id is not None
        moved = await move_assignment(session, assignment_id, Move.WITHDRAW, actor=actor, now=now, reason=reason)
        if moved is not None:
            await quota.release(session, moved.provider_id, month)
            withdrawn += 1
    return withdrawn


async def cancel(session: AsyncSession, request_id: int, reason: str, *, actor: str, now: datetime) -> None:
    """An operator cancels a request not yet under way (and withdraws its offer); 404, or 409 if it is
    under way, done or cancelled already."""
    row = await session.get(ServiceRequest, request_id)
    if row is None:
        raise NotFound(f"request {request_id} does not exist")
    if not await move_request(session, request_id, Move.CANCEL, actor=actor, now=now, cancel_reason=reason):
        current = await session.get(ServiceRequest, request_id, populate_existing=True)
        status = current.status if current is not None else "gone"
        raise Conflict(f"request {request_id} is {status} and can no longer be cancelled")
    await withdraw(session, request_id, row.month, actor=actor, now=now, reason=reason)


MISSED_REASON = "month ended unvisited"


async def miss(session: AsyncSession, request_id: int, *, now: datetime) -> bool:
    """A planned visit its month ended without is `missed`, its live offer withdrawn (the unit given back);
    False if it had begun (or was closed) meanwhile."""
    month = (await session.exec(select(ServiceRequest.month).where(col(ServiceRequest.id) == request_id))).first()
    if month is None or not await move_request(session, request_id, Move.MISS, actor="scheduler", now=now):
        return False
    await withdraw(session, request_id, month, actor="scheduler", now=now, reason=MISSED_REASON)
    return True


async def start(session: AsyncSession, request_id: int, *, actor: str, now: datetime) -> bool:
    """A caregiver checked in: the request is under way."""
    return await move_request(session, request_id, Move.START, actor=actor, now=now)


async def complete(session: AsyncSession, assignment_id: int, request_id: int, *, actor: str, now: datetime) -> None:
    """The visit was checked out: its assignment and its request are done."""
    await move_assignment(session, assignment_id, Move.COMPLETE, actor=actor, now=now)
    await move_request(session, request_id, Move.COMPLETE, actor=actor, now=now)


async def nobody(
    session: AsyncSession,
    request_id: int,
    explanation: Explanation,
    *,
    actor: str,
    now: datetime,
    urgency: str = "routine",
) -> bool:
    """Dispatch found no provider who may take the open request: operators see it, with the reasons; an
    emergency goes to the escalation queue at once."""
    if urgency == "emergency":
        return await escalate(session, request_id, actor=actor, now=now, explanation=explanation)
    return await move_request(session, request_id, Move.NOBODY, actor=actor, now=now, explanation=explanation)
