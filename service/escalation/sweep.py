"""The escalation sweep (a scheduler job, every second): emergencies not accepted in time.

- An emergency offered and not accepted `escalate_after_s` after its newest offer is offered at once to
  the next nearest eligible providers (ESCALATION_WIDTH of them, the engine's ranking with everyone
  offered before left out); its earlier offers stay open: the first provider to accept takes it and the
  others' offers are withdrawn (lifecycle/moves.accept). Nobody more to offer it to: its offers stand.
  (An emergency nobody at all may take goes to the queue at once, from the dispatcher: moves.nobody.)
- An emergency not accepted `escalation_queue_after_s` after the alarm goes to the operators' escalation
  queue (`escalated`), its open offers still standing, so that a person phones.

Each request in a transaction of its own (faults.each_alone): one that fails for its own sake goes to the
queue with the error as its explanation (never silence) and is passed by afterwards (`skip`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.dispatching import faults
from service.dispatching.faults import usable_month
from service.dispatching.open_requests import NEEDS, Registry, explain, ranked
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import AssignmentStatus, Move, RequestStatus, in_order, request_move
from service.settings import Settings

ESCALATION_WIDTH = 3  # providers offered at once each time an emergency's offers go unanswered
ACTOR = "escalation"
_QUEUE_FROM = request_move(Move.ESCALATE).sources


async def due_for_queue(session: AsyncSession, *, now: datetime, settings: Settings, skip: set[int]) -> list[int]:
    """Emergencies not accepted `escalation_queue_after_s` after the alarm, never escalated yet."""
    query = select(ServiceRequest.id).where(
        ServiceRequest.urgency == "emergency",
        col(ServiceRequest.status).in_(in_order(_QUEUE_FROM)),
        col(ServiceRequest.escalated_at).is_(None),
        col(ServiceRequest.created_at) <= now - timedelta(seconds=settings.escalation_queue_after_s),
    )
    if skip:
        query = query.where(col(ServiceRequest.id).not_in(skip))
    return [i for i in (await session.exec(query.order_by(col(ServiceRequest.created_at)))).all() if i is not None]


async def due_for_more_offers(session: AsyncSession, *, now: datetime, settings: Settings, skip: set[int]) -> list[int]:
    """Emergencies offered, never escalated, whose newest open offer is `escalate_after_s` old."""
    newest = (
        select(Assignment.request_id, func.max(Assignment.offered_at).label("newest"))
        .where(Assignment.status == AssignmentStatus.OFFERED)
        .group_by(col(Assignment.request_id))
        .subquery()
    )
    query = (
        select(ServiceRequest.id)
        .join(newest, newest.c.request_id == ServiceRequest.id)
        .where(
            ServiceRequest.urgency == "emergency",
            ServiceRequest.status == RequestStatus.ASSIGNED,
            col(ServiceRequest.escalated_at).is_(None),
            newest.c.newest <= now - timedelta(seconds=settings.escalate_after_s),
        )
    )
    if skip:
        query = query.where(col(ServiceRequest.id).not_in(skip))
    return [i for i in (await session.exec(query.order_by(col(ServiceRequest.created_at)))).all() if i is not None]


async def offer_to_more(
    session: AsyncSession, request_id: int, *, now: datetime, settings: Settings, registry: Registry
) -> bool:
    """Offer the emergency at once to the next nearest eligible providers (everyone offered before left
    out); nobody left: to the escalation queue. False if it was accepted (or moved) meanwhile."""
    request = await session.get(ServiceRequest, request_id, populate_existing=True)
    if request is None or request.status != RequestStatus.ASSIGNED:
        return False
    offered_before = set(
        (await session.exec(select(Assignment.provider_id).where(Assignment.request_id == request_id))).all()
    )
    need = (await session.exec(NEEDS.where(col(ServiceRequest.id) == request_id))).one()
    supply = await registry.supply(session, usable_month(request.month))
    choices = ranked(supply, need, offered_before, ESCALATION_WIDTH)
    wanted = [(int(c.provider), round(c.km, 3)) for c in choices if c.provider is not None and c.km is not None]
    if not wanted:  # nobody more: its open offers stand until the queue's limit
        return False
    rows = await moves.offer_also(
        session,
        request,
        wanted,
        explanation={
            **explain(choices[0]),
            "escalation": {"offered_to": [p for p, _ in wanted], "after_s": settings.escalate_after_s},
        },
        actor=ACTOR,
        now=now,
        settings=settings,
    )
    return bool(rows)


async def escalate_emergencies(
    sessions: async_sessionmaker,
    *,
    now: datetime,
    settings: Settings,
    skip: set[int] | None = None,
    registry: Registry | None = None,
) -> int:
    """One run of the sweep: emergencies past the queue limit escalated, then those whose offers went
    unanswered offered to more providers; how many requests moved. Safe to run twice, or twice at once."""
    skip = set() if skip is None else skip
    async with sessions() as session:
        to_queue = await due_for_queue(session, now=now, settings=settings, skip=skip)

    async def to_the_queue(session: AsyncSession, request_id: int) -> bool:
        return await moves.escalate(session, request_id, actor=ACTOR, now=now)

    async def queue_with_error(session: AsyncSession, request_id: int, exc: BaseException) -> None:
        await moves.escalate(session, request_id, actor=ACTOR, now=now, explanation=faults.error_explanation(exc))

    done = await faults.each_alone(
        sessions, to_queue, to_the_queue, job="escalation", entity="service_request", skip=skip, mark=queue_with_error
    )
    async with sessions() as session:
        unanswered = await due_for_more_offers(session, now=now, settings=settings, skip=skip)
    if not unanswered:
        return done
    registry = registry or Registry(settings)

    async def more_offers(session: AsyncSession, request_id: int) -> bool:
        return await offer_to_more(session, request_id, now=now, settings=settings, registry=registry)

    return done + await faults.each_alone(
        sessions, unanswered, more_offers, job="escalation", entity="service_request", skip=skip, mark=queue_with_error
    )
