"""Service requests (工单): intake by operators and devices, reading them, the timeline. Their status moves
are the lifecycle's (service/lifecycle/moves.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEvent
from service.audit.service import record_change
from service.catalogue import DEFAULT_ITEMS
from service.db import utcnow
from service.elders.models import Elder
from service.errors import Invalid, NotFound
from service.items.service import require_item
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import LIVE_REQUEST, RequestStatus, in_order
from service.months import month_of
from service.requests.schemas import (
    AlertCreate,
    AssignmentPublic,
    RequestCreate,
    RequestDetail,
    RequestPublic,
    TimelineEntry,
    VisitSummary,
)
from service.settings import Settings
from service.tokens.service import Principal
from service.visits.models import Visit
from service.visits.verification import Point, metres

UNSERVICEABLE = ("deceased", "moved")  # elders' statuses under which nobody is sent
# A second press of the same elder's button while help is already on its way joins that request.
ALERT_MERGE_WINDOW = timedelta(minutes=30)


async def get_request(session: AsyncSession, request_id: int) -> ServiceRequest:
    row = await session.get(ServiceRequest, request_id)
    if row is None:
        raise NotFound(f"request {request_id} does not exist")
    return row


def refuse_unserviceable(elder_id: int, status: str | None) -> None:
    """422 unless the elder exists (`status` not None) and can still be served."""
    if status is None:
        raise Invalid.field("elder_id", f"elder {elder_id} does not exist")
    if status in UNSERVICEABLE:
        raise Invalid.field("elder_id", f"elder {elder_id} is {status}; no service can be sent")


async def _serviceable_elder(session: AsyncSession, elder_id: int) -> int:
    """The elder's id, if it exists and can still be served (only its status is read)."""
    refuse_unserviceable(elder_id, (await session.exec(select(Elder.status).where(Elder.id == elder_id))).first())
    return elder_id


def new_request_values(data: RequestCreate, principal: Principal, settings: Settings, now: datetime) -> dict[str, Any]:
    """The columns of an operator's new request (all but its id)."""
    return {
        **data.model_dump(),
        "item": data.item or DEFAULT_ITEMS[data.service],
        "kind": "ad_hoc",
        "status": RequestStatus.OPEN.value,
        "seq": None,
        "planned_date": None,
        "month": month_of(data.window_start or now, settings.tz),
        "attempts": 0,
        "cancel_reason": None,
        "created_by": principal.actor,
        "created_at": now,
        "updated_at": now,
    }


def creation_audit(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit event of a request's creation records of it."""
    return {
        "status": values["status"],
        "service": values["service"],
        "urgency": values["urgency"],
        "elder_id": values["elder_id"],
        "channel": values["channel"],
    }


async def _insert(session: AsyncSession, row: ServiceRequest, actor: str) -> ServiceRequest:
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=actor,
        action="request.create",
        entity="service_request",
        entity_id=row.id,
        after=creation_audit(row.model_dump()),
        at=row.created_at,
    )
    return row


# create_request and raise_alert leave their transaction open, as every service does: it commits with the
# Idempotency-Key's stored answer (Idempotency.run), so the work and the key's "done" land at once.
# On PostgreSQL operators' requests are created by intake.py in one statement instead.
async def create_request(
    session: AsyncSession, data: RequestCreate, principal: Principal, settings: Settings
) -> ServiceRequest:
    await _serviceable_elder(session, data.elder_id)
    values = new_request_values(data, principal, settings, utcnow())
    await require_item(session, values["item"], data.service)
    row = ServiceRequest(**values)
    return await _insert(session, row, principal.actor)


async def raise_alert(
    session: AsyncSession, data: AlertCreate, principal: Principal, settings: Settings
) -> tuple[ServiceRequest, bool]:
    """An emergency request from a device; (request, created) — an alert joins a live one if any."""
    if data.device_id is not None:
        elder_id = (await session.exec(select(Elder.id).where(Elder.device_id == data.device_id))).first()
        if elder_id is None:
            raise Invalid.field("device_id", "no elder has this device")
    else:
        elder_id = await _serviceable_elder(session, data.elder_id)
    now = utcnow()
    if data.at > now + timedelta(seconds=settings.clock_skew_s):
        raise Invalid.field("at", "is in the future beyond the allowed clock skew")
    live = (
        await session.exec(
            select(ServiceRequest)
            .where(
                ServiceRequest.elder_id == elder_id,
                ServiceRequest.urgency == "emergency",
                col(ServiceRequest.status).in_(in_order(LIVE_REQUEST)),
                ServiceRequest.created_at >= now - ALERT_MERGE_WINDOW,
            )
            .order_by(col(ServiceRequest.id).desc())
        )
    ).first()
    if live is not None:
        record_change(
            session,
            actor=principal.actor,
            action="request.alert_merged",
            entity="service_request",
            entity_id=live.id,
            after={"kind": data.kind, "at": data.at},
        )
        return live, False
    place = await _away_from_home(session, elder_id, data, settings)
    row = ServiceRequest(
        alert_lat=place[0] if place else None,
        alert_lon=place[1] if place else None,
        elder_id=elder_id,
        service="emergency",
        urgency="emergency",
        kind="ad_hoc",
        channel="one_touch",
        status=RequestStatus.OPEN.value,
        month=month_of(now, settings.tz),
        created_by=principal.actor,
        note=f"alert {data.kind} at {data.at.isoformat()}",
        alert_kind=data.kind,
        created_at=now,
        updated_at=now,
    )
    return await _insert(session, row, principal.actor), True


async def _away_from_home(
    session: AsyncSession, elder_id: int, data: AlertCreate, settings: Settings
) -> tuple[float, float] | None:
    """The alert's place (WGS-84) when it came with one beyond the geofence from the elder's home (外出监护):
    where the caregiver goes and checks in. A device without a fix sends 0/0: that is no place."""
    if data.location is None or (data.location.lat, data.location.lon) == (0, 0):
        return None
    lat, lon = data.location.wgs84()
    elder = await session.get(Elder, elder_id)
    assert elder is not None
    return (lat, lon) if metres(Point(lat, lon), Point(elder.lat, elder.lon)) > settings.geofence_m else None


async def list_requests(
    session: AsyncSession,
    *,
    status: str | None,
    elder_id: int | None,
    month: str | None,
    urgency: str | None,
    after: int | None,
    limit: int,
) -> list[ServiceRequest]:
    query = select(ServiceRequest).order_by(ServiceRequest.id).limit(limit + 1)
    if status:
        query = query.where(ServiceRequest.status == status)
    if elder_id:
        query = query.where(ServiceRequest.elder_id == elder_id)
    if month:
        query = query.where(ServiceRequest.month == month)
    if urgency:
        query = query.where(ServiceRequest.urgency == urgency)
    if after is not None:
        query = query.where(ServiceRequest.id > after)
    return list((await session.exec(query)).all())


async def request_detail(session: AsyncSession, row: ServiceRequest) -> RequestDetail:
    assignments = (
        await session.exec(select(Assignment).where(Assignment.request_id == row.id).order_by(Assignment.id))
    ).all()
    visit = None
    if assignments:
        visit = (
            await session.exec(
                select(Visit)
                .where(col(Visit.assignment_id).in_([a.id for a in assignments]))
                .order_by(col(Visit.id).desc())
            )
        ).first()
    events = (
        await session.exec(
            select(AuditEvent)
            .where(
                AuditEvent.entity == "service_request",
                AuditEvent.entity_id == str(row.id),
                col(AuditEvent.action).in_(("request.create", "request.status")),
            )
            .order_by(AuditEvent.id)
        )
    ).all()
    return RequestDetail(
        **RequestPublic.model_validate(row, from_attributes=True).model_dump(),
        assignments=[AssignmentPublic.model_validate(a, from_attributes=True) for a in assignments],
        visit=VisitSummary.model_validate(visit, from_attributes=True) if visit else None,
        timeline=[TimelineEntry(status=e.after["status"], at=e.at, by=e.actor) for e in events],
    )


def new_request_detail(values: Mapping[str, Any]) -> RequestDetail:
    """What `request_detail` would read back for a request just written with these columns, without the
    reads: no assignments, no visit, its creation (the audit event written with it) the only timeline entry."""
    return RequestDetail.model_validate(
        {
            **values,
            "assignments": [],
            "visit": None,
            "timeline": [{"status": values["status"], "at": values["created_at"], "by": values["created_by"]}],
        }
    )


async def cancel_request(session: AsyncSession, request_id: int, reason: str, principal: Principal) -> ServiceRequest:
    await moves.cancel(session, request_id, reason, actor=principal.actor, now=utcnow())
    return await session.get(ServiceRequest, request_id, populate_existing=True)
