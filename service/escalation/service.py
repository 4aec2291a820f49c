"""Operators take over: the escalation queue, a request's ranked candidates, a manual assignment.

Nothing here commits: the request's session dependency does (docs/design.md § Transactions).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.instant import InstantChoice
from service.audit.service import record_change
from service.auth import Principal
from service.dispatching.faults import usable_month
from service.dispatching.open_requests import NEEDS, Registry, ranked
from service.elders.models import Elder, ElderContact
from service.errors import Conflict, Invalid, NotFound
from service.escalation.schemas import (
    AssignBody,
    Candidate,
    Candidates,
    Contact,
    Escalation,
    OpenOffer,
    PassedBy,
)
from service.lifecycle import moves
from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.transitions import AssignmentStatus, Move, RequestStatus, in_order, request_move
from service.providers.models import Provider
from service.settings import Settings

# What operators watch: emergencies nobody accepted in time, and requests of any urgency nobody can take.
QUEUED = (RequestStatus.ESCALATED, RequestStatus.UNASSIGNABLE)
ASSIGNABLE = request_move(Move.ASSIGN).sources
CANDIDATES_SHOWN = 10


async def queue(session: AsyncSession, *, now: datetime, limit: int) -> list[Escalation]:
    """The escalation queue, oldest alarm first."""
    rows = (
        await session.exec(
            select(ServiceRequest, Elder)
            .join(Elder, col(Elder.id) == ServiceRequest.elder_id)
            .where(col(ServiceRequest.status).in_(QUEUED))
            .order_by(col(ServiceRequest.created_at), col(ServiceRequest.id))
            .limit(limit)
        )
    ).all()
    elder_ids = list({elder.id for _, elder in rows})
    request_ids = [request.id for request, _ in rows]
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for c in (
        await session.exec(
            select(ElderContact)
            .where(col(ElderContact.elder_id).in_(elder_ids))
            .order_by(col(ElderContact.guardian).desc(), col(ElderContact.id))
        )
    ).all():
        contacts[c.elder_id].append(Contact(name=c.name, relation=c.relation, phone=c.phone, guardian=c.guardian))
    offers: dict[int, list[OpenOffer]] = defaultdict(list)
    for a in (
        await session.exec(
            select(Assignment)
            .where(col(Assignment.request_id).in_(request_ids), Assignment.status == AssignmentStatus.OFFERED)
            .order_by(col(Assignment.id))
        )
    ).all():
        offers[a.request_id].append(
            OpenOffer(
                assignment_id=a.id, provider_id=a.provider_id, km=a.km, offered_at=a.offered_at, expires_at=a.expires_at
            )
        )
    return [
        Escalation(
            request_id=r.id,
            status=r.status,
            urgency=r.urgency,
            service=r.service,
            alert_kind=r.alert_kind,
            alarm_at=r.created_at,
            waiting_s=max(0, int((now - r.created_at).total_seconds())),
            escalated_at=r.escalated_at,
            elder_id=e.id,
            elder_name=e.name,
            elder_phone=e.phone,
            address=e.address,
            living_alone=e.living_alone,
            note=r.note,
            contacts=contacts[e.id],
            open_offers=offers[r.id],
            explanation=r.explanation,
        )
        for r, e in rows
    ]


async def _request(session: AsyncSession, request_id: int) -> ServiceRequest:
    row = await session.get(ServiceRequest, request_id)
    if row is None:
        raise NotFound(f"request {request_id} does not exist")
    return row


async def _choices(
    session: AsyncSession, request: ServiceRequest, settings: Settings, limit: int
) -> list[InstantChoice]:
    """The engine's ranking of the request's providers (those that declined it or let it lapse left out)."""
    assert request.id is not None
    need = (await session.exec(NEEDS.where(col(ServiceRequest.id) == request.id))).one()
    supply = await Registry(settings).supply(session, usable_month(request.month))
    offered = await _offered_to(session, request.id)
    for provider_id in offered:  # an open offer holds its provider's unit: it is still that provider's to take
        supply.visits_left[str(provider_id)] = supply.visits_left.get(str(provider_id), 0) + 1
    return ranked(supply, need, await moves.excluded_providers(session, request.id), limit)


async def _offered_to(session: AsyncSession, request_id: int) -> set[int]:
    return set(
        (
            await session.exec(
                select(Assignment.provider_id).where(
                    Assignment.request_id == request_id, Assignment.status == AssignmentStatus.OFFERED
                )
            )
        ).all()
    )


async def candidates(session: AsyncSession, request_id: int, settings: Settings) -> Candidates:
    """The providers the engine would offer the request to, nearest first, with the nearer ones it may not
    use and why (GET /requests/{id}/candidates)."""
    request = await _request(session, request_id)
    assert request.id is not None
    choices = await _choices(session, request, settings, CANDIDATES_SHOWN)
    chosen = [c for c in choices if c.provider is not None]
    names = dict(
        (
            await session.exec(
                select(Provider.id, Provider.name).where(
                    col(Provider.id).in_([int(c.provider) for c in chosen if c.provider is not None])
                )
            )
        ).all()
    )
    offered = await _offered_to(session, request.id)
    passed: dict[int, PassedBy] = {}
    ranked_ids = {int(c.provider) for c in chosen if c.provider is not None}
    for choice in choices:
        for r in choice.rejected:
            if int(r.provider) in ranked_ids:  # left out by the ranking itself, not by a rule
                continue
            passed.setdefault(
                int(r.provider),
                PassedBy(provider_id=int(r.provider), km=round(r.km, 3), reason=r.reason.rule, detail=r.reason.detail),
            )
    return Candidates(
        request_id=request.id,
        status=request.status,
        urgency=request.urgency,
        candidates=[
            Candidate(
                rank=i + 1,
                provider_id=int(c.provider),
                provider_name=names[int(c.provider)],
                km=round(c.km or 0.0, 3),
                offered=int(c.provider) in offered,
            )
            for i, c in enumerate(chosen)
            if c.provider is not None
        ],
        passed_by=sorted(passed.values(), key=lambda p: p.km),
    )


async def _why_not(
    session: AsyncSession, request: ServiceRequest, provider: Provider, settings: Settings
) -> str | None:
    """Why the engine may not offer the request to this provider, or None if it may."""
    if provider.status != "active":
        return f"is {provider.status}"
    if request.service not in (provider.services or []):
        return f"does not offer the service {request.service}"
    for choice in await _choices(session, request, settings, limit=10_000):
        if choice.provider is not None and int(choice.provider) == provider.id:
            return None
        for r in choice.rejected:
            if int(r.provider) == provider.id:
                return f"{r.reason.rule}: {r.reason.detail}"
    return "is not under contract for the request's month, or has no station"


async def assign(
    session: AsyncSession, request_id: int, body: AssignBody, principal: Principal, settings: Settings, *, now: datetime
) -> ServiceRequest:
    """An operator hands an open, offered or escalated request to a provider: its open offers are withdrawn
    and it is offered to that one provider, who accepts as usual. 404 unknown request or provider; 409 the
    request is accepted, under way or closed; 422 the provider may not take it, unless the request is an
    emergency and `override` is set (the reason is audited). Nothing is written on refusal."""
    request = await _request(session, request_id)
    assert request.id is not None
    provider = await session.get(Provider, body.provider_id)
    if provider is None:
        raise NotFound(f"provider {body.provider_id} does not exist")
    if request.status not in ASSIGNABLE:
        raise Conflict(
            f"request {request_id} is {request.status}: only {', '.join(in_order(ASSIGNABLE))} "
            "requests can be assigned by hand"
        )
    if body.override and request.urgency != "emergency":
        raise Invalid.field("override", "is for emergencies only")
    why_not = await _why_not(session, request, provider, settings)
    if why_not is not None and not body.override:
        raise Invalid.field("provider_id", f"provider {provider.id} {why_not}")
    if not await moves.move_request(
        session,
        request.id,
        Move.ASSIGN,
        actor=principal.actor,
        now=now,
        only_from=frozenset({RequestStatus(request.status)}),
    ):
        raise Conflict(f"request {request_id} changed meanwhile; look again")
    await moves.withdraw(
        session,
        request.id,
        request.month,
        actor=principal.actor,
        now=now,
        reason=f"assigned by hand to provider {provider.id}",
    )
    explanation = {
        "kind": "manual",
        "provider_id": provider.id,
        "reason": body.reason,
        "override": body.override,
        "by": principal.actor,
        **({"outside_normal_reach": why_not} if why_not else {}),
    }
    rows = await moves.offer_also(
        session,
        request,
        [(provider.id, None)],
        explanation=explanation,
        actor=principal.actor,
        now=now,
        settings=settings,
        beyond_quota=body.override,
        reason=f"assigned by hand: {body.reason}",
    )
    if not rows:
        raise Invalid.field("provider_id", f"provider {provider.id} has no quota left this month")
    record_change(
        session,
        actor=principal.actor,
        action="request.manual_assign",
        entity="service_request",
        entity_id=request.id,
        at=now,
        after={
            "provider_id": provider.id,
            "reason": body.reason,
            "override": body.override,
            "assignment_id": rows[0].id,
            **({"outside_normal_reach": why_not} if why_not else {}),
        },
    )
    return request
