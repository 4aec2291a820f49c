"""Check-in and check-out at the elder's home, idempotent by the phone's client_visit_id.

Nothing here commits (the request's session dependency does); a batch upload keeps each item's check-in and
check-out in savepoints of their own, so one bad item undoes only itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.catalogue import DEFAULT_ITEMS
from service.db import utcnow
from service.elders.models import Elder
from service.errors import Conflict, DomainError, Invalid, NotFound, field_errors, problem_body
from service.items.service import item_in_force
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import AssignmentStatus
from service.months import month_bounds
from service.providers.models import Station
from service.schemas import StoredLocation
from service.settings import Settings
from service.tokens.service import Principal
from service.visits import verification
from service.visits.models import Visit
from service.visits.schemas import (
    BatchItem,
    BatchResult,
    CheckOut,
    Fix,
    Verification,
    VisitPublic,
    VisitStart,
)
from service.visits.verification import OtherVisit, Point, VisitFacts

# How far around a visit to look for the same caregiver's other visits (overlap, travel).
NEIGHBOURHOOD = timedelta(hours=24)


def to_public(visit: Visit, request_id: int) -> VisitPublic:
    check_out = None
    if visit.check_out_at is not None:
        check_out = Fix(
            at=visit.check_out_at,
            location=StoredLocation(lat=visit.check_out_lat, lon=visit.check_out_lon),
            distance_m=visit.check_out_distance_m,
        )
    return VisitPublic(
        id=visit.id,
        assignment_id=visit.assignment_id,
        request_id=request_id,
        client_visit_id=visit.client_visit_id,
        caregiver=visit.caregiver,
        check_in=Fix(
            at=visit.check_in_at,
            location=StoredLocation(lat=visit.check_in_lat, lon=visit.check_in_lon),
            distance_m=visit.check_in_distance_m,
        ),
        check_out=check_out,
        tasks=visit.tasks,
        note=visit.note,
        duration_minutes=visit.duration_minutes,
        verification=Verification(status=visit.status, exceptions=visit.exceptions),
        created_at=visit.created_at,
    )


async def public(session: AsyncSession, visit: Visit) -> VisitPublic:
    assignment = await session.get(Assignment, visit.assignment_id)
    return to_public(visit, assignment.request_id)


def _not_in_future(at: datetime, now: datetime, settings: Settings, field: str) -> None:
    if at > now + timedelta(seconds=settings.clock_skew_s):
        raise Invalid.field(field, f"is in the future (more than {settings.clock_skew_s} s of clock skew)")


async def _by_client_id(session: AsyncSession, provider_id: int, client_visit_id: str) -> Visit | None:
    return (
        await session.exec(
            select(Visit).where(Visit.provider_id == provider_id, Visit.client_visit_id == client_visit_id)
        )
    ).first()


async def check_in(
    session: AsyncSession, provider_id: int, data: VisitStart, principal: Principal, settings: Settings
) -> tuple[Visit, bool]:
    """(visit, created). The same client_visit_id again returns the first visit unchanged."""
    client_id = str(data.client_visit_id)
    existing = await _by_client_id(session, provider_id, client_id)
    if existing is not None:
        if existing.assignment_id != data.assignment_id:
            raise Conflict(f"client_visit_id {client_id} was already used for assignment {existing.assignment_id}")
        return existing, False
    assignment = await session.get(Assignment, data.assignment_id)
    if assignment is None or assignment.provider_id != provider_id or assignment.status != AssignmentStatus.ACCEPTED:
        raise Invalid.field("assignment_id", "is not an assignment you have accepted")
    request = await session.get(ServiceRequest, assignment.request_id)
    now = utcnow()
    _not_in_future(data.check_in.at, now, settings, "check_in.at")
    month_start, _ = month_bounds(request.month, settings.tz)
    if data.check_in.at < month_start:
        raise Invalid.field("check_in.at", f"is before the start of the request's month {request.month}")
    # Nobody answers a call before it is made. (A planned request is made by the plan, which may run mid-month
    # on demand: the entitlement it stands for held from the month's start.)
    if request.kind == "ad_hoc" and data.check_in.at < request.created_at:
        raise Invalid.field("check_in.at", f"is before its request was made ({request.created_at.isoformat()})")
    elder = await session.get(Elder, request.elder_id)
    lat, lon = data.check_in.location.wgs84()
    visit = Visit(
        assignment_id=assignment.id,
        provider_id=provider_id,
        client_visit_id=client_id,
        caregiver=assignment.caregiver,
        check_in_at=data.check_in.at,
        check_in_lat=lat,
        check_in_lon=lon,
        check_in_distance_m=verification.metres(Point(lat, lon), visit_place(request, elder)),
        elder_id=elder.id,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():  # a savepoint: a refused insert undoes only itself
            session.add(visit)
            await session.flush()
    except IntegrityError:
        # A twin upload won the race (same client id), or the assignment already has a visit.
        twin = await _by_client_id(session, provider_id, client_id)
        if twin is not None and twin.assignment_id == data.assignment_id:
            return twin, False
        raise Conflict(f"assignment {data.assignment_id} already has a visit") from None
    await moves.start(session, request.id, actor=principal.actor, now=now)
    record_change(
        session,
        actor=principal.actor,
        action="visit.check_in",
        entity="visit",
        entity_id=visit.id,
        after={"assignment_id": assignment.id, "at": data.check_in.at, "distance_m": visit.check_in_distance_m},
    )
    return visit, True


async def month_visits(
    session: AsyncSession, provider_id: int, month: str, settings: Settings, *, after: int | None, limit: int
) -> list[VisitPublic]:
    """A provider's visits begun in the month, by id (limit + 1 of them, for `next_cursor`)."""
    start, end = month_bounds(month, settings.tz)
    query = (
        select(Visit, Assignment.request_id)
        .join(Assignment, Assignment.id == Visit.assignment_id)
        .where(Visit.provider_id == provider_id, col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end)
        .order_by(Visit.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(col(Visit.id) > after)
    return [to_public(visit, request_id) for visit, request_id in (await session.exec(query)).all()]


async def _own_visit(session: AsyncSession, visit_id: int, provider_id: int) -> Visit:
    visit = await session.get(Visit, visit_id, populate_existing=True)
    if visit is None or visit.provider_id != provider_id:
        raise NotFound(f"visit {visit_id} does not exist")
    return visit


async def _caregiver_neighbours(session: AsyncSession, visit: Visit, end: datetime) -> list[OtherVisit]:
    if not visit.caregiver:
        return []
    rows = (
        await session.exec(
            select(Visit).where(
                Visit.provider_id == visit.provider_id,
                Visit.caregiver == visit.caregiver,
                Visit.id != visit.id,
                col(Visit.check_in_at) >= visit.check_in_at - NEIGHBOURHOOD,
                col(Visit.check_in_at) <= end + NEIGHBOURHOOD,
            )
        )
    ).all()
    return [
        OtherVisit(
            v.check_in_at,
            Point(v.check_in_lat, v.check_in_lon),
            v.check_out_at,
            Point(v.check_out_lat, v.check_out_lon) if v.check_out_at else None,
        )
        for v in rows
    ]


def visit_place(request: ServiceRequest, elder: Elder) -> Point:
    """Where the visit is made and verified: the elder's home, or for an alert that came from a place away
    from home (外出监护) that place."""
    if request.alert_lat is not None and request.alert_lon is not None:
        return Point(request.alert_lat, request.alert_lon)
    return Point(elder.lat, elder.lon)


async def check_out(
    session: AsyncSession, provider_id: int, visit_id: int, data: CheckOut, principal: Principal, settings: Settings
) -> Visit:
    visit = await _own_visit(session, visit_id, provider_id)
    if visit.check_out_at is not None:
        if visit.check_out_at == data.at:
            return visit  # the phone retried the same check-out
        raise Conflict(f"visit {visit_id} was already checked out at {visit.check_out_at.isoformat()}")
    now = utcnow()
    _not_in_future(data.at, now, settings, "at")
    if data.at < visit.check_in_at:
        raise Invalid.field("at", f"check-out is before the check-in at {visit.check_in_at.isoformat()}")
    assignment = await session.get(Assignment, visit.assignment_id)
    request = await session.get(ServiceRequest, assignment.request_id)
    elder = await session.get(Elder, request.elder_id)
    # The rules of the request's item in the version in force on the check-in day (Asia/Shanghai).
    item = await item_in_force(
        session, request.item or DEFAULT_ITEMS[request.service], visit.check_in_at.astimezone(settings.tz).date()
    )
    outside = sorted(set(data.tasks) - set(item.tasks))
    if outside:
        raise Invalid.field(
            "tasks", f"{', '.join(outside)} not in the tasks of item {item.code} ({', '.join(item.tasks)})"
        )
    lat, lon = data.location.wgs84()
    home = visit_place(request, elder)
    if request.window_start and request.window_end:
        window = (request.window_start, request.window_end)
    else:
        window = month_bounds(request.month, settings.tz)
    # An item with a minimum is held to it, or to the elder's own longer one (60 minutes by default).
    minimum = None if item.min_minutes is None else max(item.min_minutes, elder.min_minutes)
    centres: tuple[Point, ...] = ()
    if item.place == "centre":
        stations = await session.exec(select(Station).where(Station.provider_id == visit.provider_id))
        centres = tuple(Point(station.lat, station.lon) for station in stations.all())
    facts = VisitFacts(
        visit.check_in_at,
        Point(visit.check_in_lat, visit.check_in_lon),
        data.at,
        Point(lat, lon),
        home,
        minimum,
        *window,
        place=item.place,
        centres=centres,
    )
    exceptions = verification.verify(
        facts,
        await _caregiver_neighbours(session, visit, data.at),
        geofence_m=settings.geofence_m,
        max_kmh=settings.max_travel_kmh,
    )
    status = "exception" if exceptions else "verified"
    values = {
        "check_out_at": data.at,
        "check_out_lat": lat,
        "check_out_lon": lon,
        "check_out_distance_m": verification.metres(Point(lat, lon), home),
        "tasks": list(data.tasks),
        "note": data.note,
        "duration_minutes": round(verification.duration_minutes(facts), 2),
        "status": status,
        "exceptions": exceptions,
        "updated_at": now,
    }
    result = await session.exec(
        update(Visit)
        .where(Visit.id == visit.id, col(Visit.check_out_at).is_(None))
        .values(**values)
        .returning(Visit.id)
    )
    if result.first() is None:  # a twin check-out landed first: answered as a retry of it, or 409
        return await check_out(session, provider_id, visit_id, data, principal, settings)
    await moves.complete(session, assignment.id, request.id, actor=principal.actor, now=now)
    record_change(
        session,
        actor=principal.actor,
        action="visit.check_out",
        entity="visit",
        entity_id=visit.id,
        after={
            "at": data.at,
            "status": status,
            "exceptions": exceptions,
            "duration_minutes": values["duration_minutes"],
        },
    )
    return await _own_visit(session, visit_id, provider_id)


def _client_id(raw: object) -> str | None:
    """The item's client_visit_id to echo, if it is one (the raw value may be anything a client sent)."""
    try:
        return str(UUID(raw["client_visit_id"]))  # type: ignore[index]
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


async def upload_batch(
    session: AsyncSession, provider_id: int, items: list[dict], principal: Principal, settings: Settings
) -> list[BatchResult]:
    """Each item stands alone: good ones are stored, a bad one is reported by its index."""
    results = []
    for index, raw in enumerate(items):
        client_id = _client_id(raw)
        try:
            item = BatchItem.model_validate(raw)
            async with session.begin_nested():
                visit, _ = await check_in(session, provider_id, item, principal, settings)
            if item.check_out is not None:
                async with session.begin_nested():
                    visit = await check_out(session, provider_id, visit.id, item.check_out, principal, settings)
            results.append(
                BatchResult(
                    index=index, client_visit_id=str(item.client_visit_id), ok=True, visit=await public(session, visit)
                )
            )
        except ValidationError as exc:
            results.append(
                BatchResult(
                    index=index,
                    client_visit_id=client_id,
                    ok=False,
                    error=problem_body(422, "the item is invalid", errors=field_errors(exc.errors())),
                )
            )
        except DomainError as exc:
            results.append(
                BatchResult(
                    index=index,
                    client_visit_id=client_id,
                    ok=False,
                    error=problem_body(exc.status, exc.detail, title=exc.title, errors=exc.errors),
                )
            )
    return results
