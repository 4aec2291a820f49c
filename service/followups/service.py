"""Follow-up calls (回访): the call centre asks the elder how the visit went, once per visit."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.complaints.service import open_from_follow_up
from service.db import flush_or_conflict, utcnow
from service.errors import Conflict, NotFound
from service.followups.schemas import FollowUpCreate, FollowUpPublic
from service.tokens.service import Principal
from service.visits.models import FollowUp, Visit


def public(row: FollowUp) -> FollowUpPublic:
    return FollowUpPublic.model_validate(row, from_attributes=True)


async def record_follow_up(
    session: AsyncSession, visit_id: int, data: FollowUpCreate, principal: Principal
) -> FollowUpPublic:
    visit = await session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} does not exist")
    if visit.status == "in_progress":
        raise Conflict(f"visit {visit_id} is still in progress; call after the caregiver has left")
    existing = (await session.exec(select(FollowUp).where(FollowUp.visit_id == visit_id))).first()
    if existing is not None:
        raise Conflict(f"visit {visit_id} already has its follow-up (recorded by {existing.created_by})")
    row = FollowUp(
        visit_id=visit_id,
        satisfaction=data.satisfaction,
        complaint=data.complaint,
        created_by=principal.actor,
        created_at=utcnow(),
    )
    session.add(row)
    # One follow-up per visit: the visit is its natural key in the audit log.
    record_change(
        session,
        actor=principal.actor,
        action="follow_up.create",
        entity="follow_up",
        entity_id=visit_id,
        at=row.created_at,
        after={"satisfaction": row.satisfaction, "complaint": row.complaint is not None},
    )
    # Two operators calling the same elder at once: the first one counts. Committed with its key's answer.
    await flush_or_conflict(session, f"visit {visit_id} already has its follow-up")
    if row.complaint is not None:  # a complaint heard on the follow-up call is a ticket, sent to the provider
        await open_from_follow_up(session, row, visit, principal.actor)
    return public(row)
