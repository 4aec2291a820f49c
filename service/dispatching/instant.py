"""The dispatch tick: open requests go at once to the nearest eligible provider with quota left.

Emergencies first, then urgent, then routine, oldest first. Each request is decided in its own
transaction, claimed with a conditional UPDATE (open -> assigned) and a quota unit taken by the
database, so two ticks racing (two scheduler processes by mistake) never dispatch a request twice.
Planned requests never tried belong to the monthly batch and are left alone here.

A tick stops early when told an emergency has arrived (`interrupt`, set by the dispatcher's poke), or
after TICK_BUDGET_S in any case (an emergency re-opened where nobody pokes), and says it left work
behind, so the next one selects again, emergencies first: an emergency waits for the offer in
progress, not for a whole queue of routine requests. Each offer is stamped by the clock when
its own transaction runs, so it commits within moments of its `updated_at` and the providers' feed
(provider_app/feed.py) sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, not_
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select

from dispatch.instant import InstantChoice, InstantRequest, ProviderIndex
from dispatch.model import Policy, Provider, Station
from service.db import utcnow
from service.dispatching import offers, quota
from service.dispatching.world import ContractedProvider, eligible_providers
from service.elders.models import Elder
from service.months import first_day
from service.requests.models import ServiceRequest
from service.requests.service import transition
from service.settings import Settings

TICK_BATCH = 200
TICK_BUDGET_S = 2.0
_URGENCY_ORDER = case((ServiceRequest.urgency == "emergency", 0), (ServiceRequest.urgency == "urgent", 1), else_=2)


@dataclass(frozen=True)
class Tick:
    offered: int
    unfinished: bool  # interrupted, or the batch was full: run again at once


@dataclass
class MonthSupply:
    """The providers of one month, indexed once per tick, and the quota each has left."""

    index: ProviderIndex
    visits_left: dict[str, int]


def engine_provider(provider: ContractedProvider, quota_left: int) -> Provider:
    return Provider(id=str(provider.id), quota=quota_left, services=frozenset(provider.services),
                    areas=tuple(provider.areas), stations=tuple(Station(lat, lon) for lat, lon in provider.stations))


def explain(choice: InstantChoice) -> dict:
    rejected = [{"provider_id": int(r.provider), "km": round(r.km, 3), "reason": r.reason.rule,
                 "detail": r.reason.detail} for r in choice.rejected]
    if choice.provider is None:
        return {"kind": "instant", "provider_id": None, "why_nobody": rejected}
    return {"kind": "instant", "provider_id": int(choice.provider), "km": round(choice.km, 3),
            "nearer_rejected": rejected}


async def _supply(session, month: str, settings: Settings) -> MonthSupply:
    providers = await eligible_providers(session, first_day(month))
    used = await quota.used_by_provider(session, month)
    left = {str(p.id): max(0, p.quota - used.get(p.id, 0)) for p in providers}
    index = ProviderIndex([engine_provider(p, left[str(p.id)]) for p in providers],
                          Policy(settings.max_km, settings.continuity_bonus_km))
    return MonthSupply(index, left)


def _need(request: ServiceRequest, elder: Elder, declined: set[int]) -> InstantRequest:
    # A planned visit serves all the elder's needs; an ad-hoc request only the one asked for.
    services = frozenset(elder.services) if request.kind == "planned" else frozenset({request.service})
    urgency = request.urgency if request.urgency in ("urgent", "emergency") else "normal"
    return InstantRequest(lat=elder.lat, lon=elder.lon, area=elder.area_code, services=services, urgency=urgency,
                          declined=frozenset(str(p) for p in declined))


def _never() -> bool:
    return False


async def dispatch_open_requests(sessions: async_sessionmaker, settings: Settings, *,
                                 clock: Callable[[], datetime] = utcnow,
                                 interrupt: Callable[[], bool] = _never) -> Tick:
    """One tick. Safe to run twice, or twice at once."""
    started = time.monotonic()
    async with sessions() as session:
        rows = (await session.exec(
            select(ServiceRequest, Elder).join(Elder, Elder.id == ServiceRequest.elder_id)
            .where(ServiceRequest.status == "open",
                   not_(and_(ServiceRequest.kind == "planned", ServiceRequest.attempts == 0)))
            .order_by(_URGENCY_ORDER, col(ServiceRequest.created_at), col(ServiceRequest.id))
            .limit(TICK_BATCH))).all()
        if not rows:
            return Tick(0, False)
        supplies = {month: await _supply(session, month, settings) for month in {r.month for r, _ in rows}}
        await session.commit()

    offered = 0
    for done, (request, elder) in enumerate(rows):
        if done and (interrupt() or time.monotonic() - started > TICK_BUDGET_S):
            return Tick(offered, True)
        async with sessions() as session:
            if await _dispatch_one(session, request, elder, supplies[request.month], settings, clock()):
                offered += 1
    return Tick(offered, len(rows) == TICK_BATCH)


async def _dispatch_one(session, request: ServiceRequest, elder: Elder, supply: MonthSupply, settings: Settings,
                        now: datetime) -> bool:
    # A request never offered has nobody to exclude: spare the query on the common path.
    declined = await offers.excluded_providers(session, request.id) if request.attempts else set()
    while True:
        choice = supply.index.assign(_need(request, elder, declined), supply.visits_left)
        if choice.provider is None:
            await transition(session, request.id, from_=("open",), to="unassignable", actor="dispatcher",
                             now=now, explanation=explain(choice))
            await session.commit()
            return False
        assignment = await offers.offer(session, request, int(choice.provider), km=round(choice.km, 3),
                                        explanation=explain(choice), actor="dispatcher", now=now, settings=settings)
        if assignment is not None:
            await session.commit()
            supply.visits_left[choice.provider] -= 1
            return True
        await session.rollback()
        current = await session.get(ServiceRequest, request.id, populate_existing=True)
        if current is None or current.status != "open":
            return False  # a twin tick took it, or an operator cancelled it
        # Our picture of this provider's quota was stale (another dispatcher used it): try the next one.
        supply.visits_left[choice.provider] = 0
