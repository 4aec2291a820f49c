"""The scheduler's sweeps: offers not accepted in time, visits never checked out, planned visits never made,
old Idempotency-Keys.

Each takes the scheduler's sessionmaker and works in units of its own (service/transactions.py): row by row
or, where it is one statement, that statement, falling back to row by row when it fails for a row's sake:
one bad row is logged, marked and passed by (`skip`, kept by the scheduler's jobs), the others are swept
(faults.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.dispatching import faults
from service.idempotency.models import IdempotencyRecord
from service.idempotency.service import KEPT_FOR, forget_old_keys
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import Move, in_order, request_move
from service.settings import Settings
from service.transactions import unit
from service.visits.models import Visit

# A planned visit its month ended without: what `missed` moves (open, assigned, accepted).
NEVER_VISITED = request_move(Move.MISS).sources
log = logging.getLogger("homecare.sweeps")


def _skipping(query, column, skip: set | None):
    return query.where(col(column).not_in(skip)) if skip else query


async def expire_offers(
    sessions: async_sessionmaker, *, now: datetime, settings: Settings, limit: int = 500, skip: set[int] | None = None
) -> int:
    """Offers not accepted in time expire; their requests go back to dispatch. Safe to run twice.

    Each offer in a transaction of its own: one that fails for its own sake has its request set aside
    (faults.py) and is passed by in the runs that follow (`skip`, kept by the caller)."""
    skip = set() if skip is None else skip
    async with sessions() as session:
        due = await moves.due_to_expire(session, now=now, limit=limit, skip=skip)

    async def expire(session: AsyncSession, assignment_id: int) -> bool:
        return await moves.expire(session, assignment_id, now=now, settings=settings)

    async def set_request_aside(session: AsyncSession, assignment_id: int, exc: BaseException) -> None:
        request_id = (await session.exec(select(Assignment.request_id).where(Assignment.id == assignment_id))).one()
        await faults.set_aside(
            session, [request_id], exc, actor="scheduler", now=now, only_from=request_move(Move.SET_ASIDE).sources
        )

    return await faults.each_alone(
        sessions, due, expire, job="offer expiry", entity="assignment", skip=skip, mark=set_request_aside
    )


async def flag_missing_check_outs(
    sessions: async_sessionmaker, *, now: datetime, settings: Settings, skip: set[int] | None = None
) -> int:
    """A visit checked in but not out after the limit becomes an exception (a late upload can still
    check it out, and is then verified afresh)."""
    skip = set() if skip is None else skip
    cutoff = now - timedelta(hours=settings.missing_check_out_after_h)
    due = (Visit.status == "in_progress", col(Visit.check_out_at).is_(None), col(Visit.check_in_at) < cutoff)

    async def flag(session: AsyncSession, *where) -> int:
        result = await session.exec(
            update(Visit)
            .where(*due, *where)
            .values(status="exception", exceptions=["missing_check_out"], updated_at=now)
            .returning(Visit.id)
        )
        flagged = list(result.all())
        for visit_id in flagged:
            record_change(
                session,
                actor="scheduler",
                action="visit.missing_check_out",
                entity="visit",
                entity_id=visit_id,
                after={"status": "exception", "exceptions": ["missing_check_out"]},
            )
        return len(flagged)

    try:
        async with unit(sessions) as session:
            return await flag(session, *((col(Visit.id).not_in(skip),) if skip else ()))
    except Exception as exc:
        if not faults.row_fault(exc):
            raise
        log.warning("missing check-outs: the sweep was refused (%s); one visit at a time", faults.describe(exc))
    async with sessions() as session:
        ids = (await session.exec(_skipping(select(Visit.id).where(*due), Visit.id, skip))).all()
    return await faults.each_alone(
        sessions,
        ids,
        lambda session, visit_id: flag(session, Visit.id == visit_id),
        job="missing check-outs",
        entity="visit",
        skip=skip,
    )


async def mark_missed(sessions: async_sessionmaker, month: str, *, now: datetime, skip: set[int] | None = None) -> int:
    """After a month ends, its planned requests that no caregiver ever started are `missed` (their live
    offers withdrawn, the quota units given back)."""
    skip = set() if skip is None else skip
    async with sessions() as session:
        due = (
            await session.exec(
                _skipping(
                    select(ServiceRequest.id).where(
                        ServiceRequest.month == month,
                        ServiceRequest.kind == "planned",
                        col(ServiceRequest.status).in_(in_order(NEVER_VISITED)),
                    ),
                    ServiceRequest.id,
                    skip,
                )
            )
        ).all()

    async def miss(session: AsyncSession, request_id: int) -> bool:
        return await moves.miss(session, request_id, now=now)

    async def set_aside(session: AsyncSession, request_id: int, exc: BaseException) -> None:
        await faults.set_aside(session, [request_id], exc, actor="scheduler", now=now, only_from=NEVER_VISITED)

    return await faults.each_alone(
        sessions, due, miss, job="missed visits", entity="service_request", skip=skip, mark=set_aside
    )


async def forget_idempotency_keys(sessions: async_sessionmaker, *, now: datetime, skip: set[int] | None = None) -> int:
    """Idempotency-Keys past their time are forgotten (`forget_old_keys`); key by key if that is refused."""
    skip = set() if skip is None else skip
    if not skip:
        try:
            async with unit(sessions) as session:
                return await forget_old_keys(session, now=now)
        except Exception as exc:
            if not faults.row_fault(exc):
                raise
            log.warning("idempotency keys: forgetting was refused (%s); one key at a time", faults.describe(exc))
    old = _skipping(
        select(IdempotencyRecord.id).where(col(IdempotencyRecord.created_at) < now - KEPT_FOR),
        IdempotencyRecord.id,
        skip,
    )
    async with sessions() as session:
        ids = (await session.exec(old)).all()

    async def forget(session: AsyncSession, record_id: int) -> int:
        return len(
            (
                await session.exec(
                    delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id).returning(IdempotencyRecord.id)
                )
            ).all()
        )

    return await faults.each_alone(sessions, ids, forget, job="idempotency keys", entity="idempotency_key", skip=skip)
