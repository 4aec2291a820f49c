"""The call log: every call recorded with its type and outcome; hang-ups wait for their call back.

Services flush and never commit: the router commits (with the Idempotency-Key's answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.calls.models import CallRecord
from service.calls.schemas import CallCreate, CallFigures, CallPublic
from service.catalogue import CALL_TYPES, UNREACHED
from service.db import utcnow
from service.elders.models import Elder
from service.errors import Invalid, NotFound
from service.identity import mask_phone
from service.lifecycle.models import ServiceRequest
from service.reports.scope import ReportArea
from service.settings import Settings
from service.tokens.service import Principal


def _callback_reached():
    """True for a call that a later callback reached (someone answered)."""
    later = aliased(CallRecord)
    return exists().where(later.callback_of == CallRecord.id, col(later.outcome).not_in(UNREACHED))


def pending_callback():
    """A call in which nobody was helped (hang-up, no answer), not itself a callback, not yet called back."""
    return and_(col(CallRecord.outcome).in_(UNREACHED), CallRecord.type != "callback", ~_callback_reached())


def public(row: CallRecord, called_back: bool = False) -> CallPublic:
    data = row.model_dump()
    data["phone"] = mask_phone(row.phone) if row.phone else None
    return CallPublic(**data, called_back=called_back)


async def record_call(
    session: AsyncSession, data: CallCreate, principal: Principal, settings: Settings, *, in_seat
) -> CallPublic:
    """`in_seat(area_code)` says whether the seat may handle an elder of that area (service/seats.py)."""
    now = utcnow()
    at = data.at or now
    if at > now + timedelta(seconds=settings.clock_skew_s):
        raise Invalid.field("at", "is in the future beyond the allowed clock skew")
    area_code = None
    if data.elder_id is not None:
        area_code = (await session.exec(select(Elder.area_code).where(Elder.id == data.elder_id))).first()
        if area_code is None or not await in_seat(area_code):
            raise Invalid.field("elder_id", f"elder {data.elder_id} does not exist")
    if data.request_id is not None:
        owner = (
            await session.exec(select(ServiceRequest.elder_id).where(ServiceRequest.id == data.request_id))
        ).first()
        if owner is None or (data.elder_id is not None and owner != data.elder_id):
            raise Invalid.field("request_id", f"request {data.request_id} is not a request of this elder")
    if data.callback_of is not None:
        first = await session.get(CallRecord, data.callback_of)
        if first is None or not await in_seat(first.area_code):
            raise Invalid.field("callback_of", f"call {data.callback_of} does not exist")
        if first.outcome not in UNREACHED or first.type == "callback":
            raise Invalid.field("callback_of", f"call {data.callback_of} needs no call back")
    row = CallRecord(
        **data.model_dump(exclude={"at"}), at=at, area_code=area_code, created_by=principal.actor, created_at=now
    )
    session.add(row)
    await session.flush()
    # The audit log records what happened, never the caller's number.
    record_change(
        session,
        actor=principal.actor,
        action="call.create",
        entity="call_record",
        entity_id=row.id,
        after={"type": row.type, "outcome": row.outcome, "elder_id": row.elder_id},
        at=now,
    )
    return public(row)


async def log_complaint_call(
    session: AsyncSession, elder_id: int, area_code: str, principal: Principal, now: datetime
) -> int:
    """The call in which a complaint was taken; its id."""
    row = CallRecord(
        elder_id=elder_id,
        area_code=area_code,
        type="complaint",
        outcome="complaint_opened",
        at=now,
        created_by=principal.actor,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


async def get_call(session: AsyncSession, call_id: int, *, in_seat) -> CallPublic:
    row = await session.get(CallRecord, call_id)
    if row is None or not await in_seat(row.area_code):
        raise NotFound(f"call {call_id} does not exist")
    reached = (await session.exec(select(_callback_reached()).where(CallRecord.id == call_id))).one()
    return public(row, bool(reached))


async def list_calls(
    session: AsyncSession,
    *,
    area: ReportArea,
    type_: str | None,
    elder_id: int | None,
    pending: bool | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None,
    limit: int,
) -> list[CallPublic]:
    reached = _callback_reached().label("reached")
    query = select(CallRecord, reached).order_by(CallRecord.id).limit(limit + 1)
    if area.prefixes:
        query = query.where(area.covers(col(CallRecord.area_code)))
    if type_ is not None:
        query = query.where(CallRecord.type == type_)
    if elder_id is not None:
        query = query.where(CallRecord.elder_id == elder_id)
    if pending is not None:
        query = query.where(pending_callback() if pending else ~pending_callback())
    if since is not None:
        query = query.where(col(CallRecord.at) >= since)
    if until is not None:
        query = query.where(col(CallRecord.at) < until)
    if after is not None:
        query = query.where(col(CallRecord.id) > after)
    return [public(row, bool(was_reached)) for row, was_reached in (await session.exec(query)).all()]


async def month_figures(
    session: AsyncSession, area: ReportArea, start: datetime, end: datetime, complaints: tuple[int, int]
) -> CallFigures:
    """The month's calls by type in the area, and the complaints' counts computed by their own module."""
    in_month = and_(col(CallRecord.at) >= start, col(CallRecord.at) < end)
    where = [in_month] if not area.prefixes else [in_month, area.covers(col(CallRecord.area_code))]
    counted = dict(
        (await session.exec(select(CallRecord.type, func.count()).where(*where).group_by(CallRecord.type))).all()
    )
    pending = (await session.exec(select(func.count()).select_from(CallRecord).where(*where, pending_callback()))).one()
    by_type = {t: int(counted.get(t, 0)) for t in CALL_TYPES}
    return CallFigures(
        total=sum(by_type.values()),
        by_type=by_type,
        callbacks_pending=int(pending),
        complaints_opened=complaints[0],
        complaints_resolved=complaints[1],
    )


def last_reached_at(elder_id_column, until: datetime):
    """SQL (a scalar per elder): when a call last reached the elder before `until` (an unanswered call is no
    contact). A scalar subquery, looked up by the (elder, time) index for each elder: PostgreSQL would answer
    an EXISTS under an OR by hashing every call of the window first."""
    return (
        select(func.max(CallRecord.at))
        .where(
            CallRecord.elder_id == elder_id_column,
            col(CallRecord.at) < until,
            col(CallRecord.outcome).not_in(UNREACHED),
        )
        .scalar_subquery()
    )


async def calls_between(
    session: AsyncSession, elder_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, list[CallPublic]]:
    rows = (
        await session.exec(
            select(CallRecord)
            .where(
                col(CallRecord.elder_id).in_(elder_ids),
                col(CallRecord.at) >= since,
                col(CallRecord.at) < until,
            )
            .order_by(CallRecord.at, CallRecord.id)
        )
    ).all()
    found: dict[int, list[CallPublic]] = {}
    for row in rows:
        found.setdefault(row.elder_id, []).append(public(row))
    return found
