"""Sweeps that close what nobody will close: visits never checked out, planned visits never made."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.dispatching.offers import move_assignment
from service.requests.models import Assignment, ServiceRequest
from service.requests.service import transition
from service.settings import Settings
from service.visits.models import Visit

NEVER_VISITED = ("open", "assigned", "accepted")


async def flag_missing_check_outs(session: AsyncSession, *, now: datetime, settings: Settings) -> int:
    """A visit checked in but not out after the limit becomes an exception (a late upload can still
    check it out, and is then verified afresh)."""
    cutoff = now - timedelta(hours=settings.missing_check_out_after_h)
    result = await session.exec(
        update(Visit)
        .where(Visit.status == "in_progress", col(Visit.check_out_at).is_(None), col(Visit.check_in_at) < cutoff)
        .values(status="exception", exceptions=["missing_check_out"], updated_at=now)
        .returning(Visit.id)
    )
    flagged = list(result.all())
    for visit_id in flagged:
        record_change(session, actor="scheduler", action="visit.missing_check_out", entity="visit",
                      entity_id=visit_id, after={"status": "exception", "exceptions": ["missing_check_out"]})
    await session.commit()
    return len(flagged)


async def mark_missed(session: AsyncSession, month: str, *, now: datetime) -> int:
    """After a month ends, its planned requests that no caregiver ever started are `missed`."""
    due = (await session.exec(select(ServiceRequest.id).where(
        ServiceRequest.month == month, ServiceRequest.kind == "planned",
        col(ServiceRequest.status).in_(NEVER_VISITED)))).all()
    missed = 0
    for request_id in due:
        if await transition(session, request_id, from_=NEVER_VISITED, to="missed", actor="scheduler", now=now):
            live = (await session.exec(select(Assignment.id).where(
                Assignment.request_id == request_id, col(Assignment.status).in_(("offered", "accepted"))))).first()
            if live is not None:
                await move_assignment(session, live, from_=("offered", "accepted"), to="cancelled",
                                      actor="scheduler", now=now, reason="month ended unvisited")
            missed += 1
        await session.commit()
    return missed
