"""Sweeps that close what nobody will close: visits never checked out, planned visits never made, old
Idempotency-Keys.

Each works row by row or, where it is one statement, falls back to row by row when the statement fails
for a row's sake: one bad row is logged, marked and passed by (`skip`, kept by the scheduler's jobs),
the others are swept (faults.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.dispatching import faults
from service.dispatching.offers import move_assignment
from service.idempotency.models import IdempotencyRecord
from service.idempotency.service import KEPT_FOR, forget_old_keys
from service.requests.models import Assignment, ServiceRequest
from service.requests.service import transition
from service.settings import Settings
from service.visits.models import Visit

NEVER_VISITED = ("open", "assigned", "accepted")
log = logging.getLogger("homecare.sweeps")


def _skipping(query, column, skip: set | None):
    return query.where(col(column).not_in(skip)) if skip else query


async def flag_missing_check_outs(session: AsyncSession, *, now: datetime, settings: Settings,
                                  skip: set[int] | None = None) -> int:
    """A visit checked in but not out after the limit becomes an exception (a late upload can still
    check it out, and is then verified afresh)."""
    skip = set() if skip is None else skip
    cutoff = now - timedelta(hours=settings.missing_check_out_after_h)
    due = (Visit.status == "in_progress", col(Visit.check_out_at).is_(None), col(Visit.check_in_at) < cutoff)

    async def flag(*where) -> int:
        result = await session.exec(
            update(Visit).where(*due, *where)
            .values(status="exception", exceptions=["missing_check_out"], updated_at=now).returning(Visit.id))
        flagged = list(result.all())
        for visit_id in flagged:
            record_change(session, actor="scheduler", action="visit.missing_check_out", entity="visit",
                          entity_id=visit_id, after={"status": "exception", "exceptions": ["missing_check_out"]})
        return len(flagged)

    try:
        flagged = await flag(*((col(Visit.id).not_in(skip),) if skip else ()))
        await session.commit()
        return flagged
    except Exception as exc:
        await session.rollback()
        if not faults.row_fault(exc):
            raise
        log.warning("missing check-outs: the sweep was refused (%s); one visit at a time", faults.describe(exc))
    ids = (await session.exec(_skipping(select(Visit.id).where(*due), Visit.id, skip))).all()
    return await faults.each_alone(session, ids, lambda visit_id: flag(Visit.id == visit_id),
                                   job="missing check-outs", entity="visit", skip=skip)


async def mark_missed(session: AsyncSession, month: str, *, now: datetime, skip: set[int] | None = None) -> int:
    """After a month ends, its planned requests that no caregiver ever started are `missed`."""
    skip = set() if skip is None else skip
    due = (await session.exec(_skipping(select(ServiceRequest.id).where(
        ServiceRequest.month == month, ServiceRequest.kind == "planned",
        col(ServiceRequest.status).in_(NEVER_VISITED)), ServiceRequest.id, skip))).all()

    async def miss(request_id: int) -> bool:
        if not await transition(session, request_id, from_=NEVER_VISITED, to="missed", actor="scheduler", now=now):
            return False
        live = (await session.exec(select(Assignment.id).where(
            Assignment.request_id == request_id, col(Assignment.status).in_(("offered", "accepted"))))).first()
        if live is not None:
            await move_assignment(session, live, from_=("offered", "accepted"), to="cancelled",
                                  actor="scheduler", now=now, reason="month ended unvisited")
        return True

    async def set_aside(request_id: int, exc: BaseException) -> None:
        await faults.set_aside(session, [request_id], exc, actor="scheduler", now=now, from_=NEVER_VISITED)

    return await faults.each_alone(session, due, miss, job="missed visits", entity="service_request", skip=skip,
                                   mark=set_aside)


async def forget_idempotency_keys(session: AsyncSession, *, now: datetime, skip: set[int] | None = None) -> int:
    """Idempotency-Keys past their time are forgotten (`forget_old_keys`); key by key if that is refused."""
    skip = set() if skip is None else skip
    if not skip:
        try:
            return await forget_old_keys(session, now=now)
        except Exception as exc:
            await session.rollback()
            if not faults.row_fault(exc):
                raise
            log.warning("idempotency keys: forgetting was refused (%s); one key at a time", faults.describe(exc))
    old = _skipping(select(IdempotencyRecord.id).where(col(IdempotencyRecord.created_at) < now - KEPT_FOR),
                    IdempotencyRecord.id, skip)
    ids = (await session.exec(old)).all()

    async def forget(record_id: int) -> int:
        return len((await session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
                                       .returning(IdempotencyRecord.id))).all())

    return await faults.each_alone(session, ids, forget, job="idempotency keys", entity="idempotency_key",
                                   skip=skip)
