"""The dispatch tick: open requests go at once to the nearest eligible provider with quota left.

Emergencies first, then urgent, then routine, oldest first. Requests are decided and offered in
batches of up to OFFER_BATCH, each batch one transaction of a handful of statements whatever its size
(offers.offer_many): requests claimed with a conditional UPDATE (open -> assigned) and each provider's
quota units taken by the database, so two ticks racing (two scheduler processes by mistake) never
dispatch a request twice or a provider past its quota. Under load a tick finds many requests waiting
and writes them together; one at a time each cost a transaction of its own.
Planned requests never tried belong to the monthly batch and are left alone here.

A tick stops early when told an emergency has arrived (`interrupt`, set by the dispatcher's poke), or
after TICK_BUDGET_S in any case (an emergency re-opened where nobody pokes), and says it left work
behind, so the next one selects again, emergencies first: an emergency waits for the batch in
progress, not for a whole queue of routine requests. Each batch's offers are stamped by the clock
when its own transaction runs, so they commit within moments of their `updated_at` and the
providers' feed (provider_app/feed.py) sees them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, and_, case, not_
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select

from dispatch.instant import InstantChoice, InstantRequest, ProviderIndex
from dispatch.model import Policy, Provider, Station
from service.db import utcnow
from service.dispatching import offers, quota
from service.dispatching.world import ContractedProvider, eligible_providers, registry_version
from service.elders.models import Elder
from service.months import first_day
from service.requests.models import ServiceRequest
from service.requests.service import transition
from service.settings import Settings

TICK_BATCH = 200
# Offers written per transaction: an emergency selected by the next tick waits for at most this many.
OFFER_BATCH = 50
TICK_BUDGET_S = 2.0
_URGENCY_ORDER = case((ServiceRequest.urgency == "emergency", 0), (ServiceRequest.urgency == "urgent", 1), else_=2)


@dataclass(frozen=True)
class Tick:
    offered: int
    unfinished: bool  # interrupted, or the batch was full: run again at once


@dataclass
class MonthSupply:
    """The providers of one month, indexed, and the quota each has left."""

    index: ProviderIndex
    visits_left: dict[str, int]


def engine_provider(provider: ContractedProvider) -> Provider:
    return Provider(id=str(provider.id), quota=provider.quota, services=frozenset(provider.services),
                    areas=tuple(provider.areas), stations=tuple(Station(lat, lon) for lat, lon in provider.stations))


class Registry:
    """The providers under contract in each month, indexed for the engine, kept from tick to tick while
    the registry stays as it is: loading and indexing them again every tick cost more than the offers."""

    def __init__(self, settings: Settings) -> None:
        self._policy = Policy(settings.max_km, settings.continuity_bonus_km)
        self._version: tuple | None = None
        self._months: dict[str, tuple[list[ContractedProvider], ProviderIndex]] = {}

    async def supply(self, session, month: str) -> MonthSupply:
        """The month's providers, and their quota left as the database has it now."""
        version = await registry_version(session)
        if version != self._version:
            self._version, self._months = version, {}
        if month not in self._months:
            providers = await eligible_providers(session, first_day(month))
            self._months[month] = providers, ProviderIndex([engine_provider(p) for p in providers], self._policy)
        providers, index = self._months[month]
        used = await quota.used_by_provider(session, month)
        return MonthSupply(index, {str(p.id): max(0, p.quota - used.get(p.id, 0)) for p in providers})


def explain(choice: InstantChoice) -> dict:
    rejected = [{"provider_id": int(r.provider), "km": round(r.km, 3), "reason": r.reason.rule,
                 "detail": r.reason.detail} for r in choice.rejected]
    if choice.provider is None:
        return {"kind": "instant", "provider_id": None, "why_nobody": rejected}
    return {"kind": "instant", "provider_id": int(choice.provider), "km": round(choice.km, 3),
            "nearer_rejected": rejected}


def _need(request: Row, declined: set[int]) -> InstantRequest:
    # A planned visit serves all the elder's needs; an ad-hoc request only the one asked for.
    services = frozenset(request.elder_services) if request.kind == "planned" else frozenset({request.service})
    urgency = request.urgency if request.urgency in ("urgent", "emergency") else "normal"
    return InstantRequest(lat=request.lat, lon=request.lon, area=request.area_code, services=services,
                          urgency=urgency, declined=frozenset(str(p) for p in declined))


def _never() -> bool:
    return False


# The open requests a tick decides, with what the engine needs of their elders (columns, not ORM objects).
_OPEN = (select(ServiceRequest.id, ServiceRequest.month, ServiceRequest.kind, ServiceRequest.service,
                ServiceRequest.urgency, ServiceRequest.attempts, Elder.lat, Elder.lon, Elder.area_code,
                col(Elder.services).label("elder_services"))
         .join(Elder, Elder.id == ServiceRequest.elder_id)
         .where(ServiceRequest.status == "open",
                not_(and_(ServiceRequest.kind == "planned", ServiceRequest.attempts == 0)))
         .order_by(_URGENCY_ORDER, col(ServiceRequest.created_at), col(ServiceRequest.id))
         .limit(TICK_BATCH))


async def dispatch_open_requests(sessions: async_sessionmaker, settings: Settings, *,
                                 clock: Callable[[], datetime] = utcnow,
                                 interrupt: Callable[[], bool] = _never,
                                 registry: Registry | None = None) -> Tick:
    """One tick. Safe to run twice, or twice at once. `registry`: the dispatcher's, kept between ticks."""
    started = time.monotonic()
    registry = registry or Registry(settings)
    async with sessions() as session:
        rows = (await session.exec(_OPEN)).all()
        if not rows:
            return Tick(0, False)
        supplies = {month: await registry.supply(session, month) for month in {r.month for r in rows}}
        # A request never offered has nobody to exclude: only those tried before are looked up.
        declined = await offers.excluded_for(session, [r.id for r in rows if r.attempts])
        await session.commit()

    offered = 0
    for start in range(0, len(rows), OFFER_BATCH):
        if start and (interrupt() or time.monotonic() - started > TICK_BUDGET_S):
            return Tick(offered, True)
        async with sessions() as session:
            offered += await _dispatch_batch(session, rows[start:start + OFFER_BATCH], supplies, declined,
                                             settings, clock())
    return Tick(offered, len(rows) == TICK_BATCH)


async def _dispatch_batch(session, rows: list[Row], supplies: dict[str, MonthSupply],
                          declined: dict[int, set[int]], settings: Settings, now: datetime) -> int:
    """Decide a batch of requests and write its offers in one transaction; the number offered."""
    offered, pending = 0, rows
    while pending:
        decided: list[tuple[Row, InstantChoice]] = []
        for request in pending:
            supply = supplies[request.month]
            choice = supply.index.assign(_need(request, declined.get(request.id, set())), supply.visits_left)
            if choice.provider is None:
                await transition(session, request.id, from_=("open",), to="unassignable", actor="dispatcher",
                                 now=now, explanation=explain(choice))
                continue
            supply.visits_left[choice.provider] -= 1
            decided.append((request, choice))
        result = await offers.offer_many(session, [
            offers.Offer(request.id, int(choice.provider), request.month, request.urgency, round(choice.km, 3),
                         explain(choice)) for request, choice in decided], actor="dispatcher", now=now,
            settings=settings)
        await session.commit()
        offered += len(result.assignments)
        pending = []
        for request, choice in decided:
            if request.id in result.assignments:
                continue
            if (request.month, int(choice.provider)) in result.full:
                # Our picture of this provider's quota was stale (another dispatcher used it): decide again.
                supplies[request.month].visits_left[choice.provider] = 0
                pending.append(request)
            else:  # a twin tick took it, or an operator cancelled it: its unit was given back
                supplies[request.month].visits_left[choice.provider] += 1
    return offered
