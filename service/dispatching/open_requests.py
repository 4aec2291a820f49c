"""The dispatch tick (the orchestration of dispatch/instant.py, the pure engine): open requests go at once
to the nearest eligible provider with quota left.

Emergencies first, then urgent, then routine, oldest first. Requests are decided and offered in
batches of up to OFFER_BATCH, each batch one transaction of a handful of statements whatever its size
(lifecycle/moves.offer_many): requests claimed with a conditional UPDATE (open -> assigned) and each provider's
quota units taken by the database, so two ticks racing (two scheduler processes by mistake) never
dispatch a request twice or a provider past its quota. Under load a tick finds many requests waiting
and writes them together; one at a time each cost a transaction of its own.
Planned requests never tried belong to the monthly batch and are left alone here.

A tick stops early when told an emergency has arrived (`interrupt`, set by the dispatcher's poke), or
after TICK_BUDGET_S in any case (an emergency re-opened where nobody pokes), and says it left work
behind, so the next one selects again, emergencies first: an emergency waits for the batch in
progress, not for a whole queue of routine requests. The tick is a job: it is given the scheduler's
sessionmaker and commits each batch as a unit of its own (service/transactions.py). Each batch's offers
are stamped by the clock when its own transaction runs, so they commit within moments of their
`updated_at` and the providers' feed (provider_app/feed.py) sees them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, String, and_, case, cast, func, not_
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select

from dispatch.instant import InstantChoice, InstantRequest, ProviderIndex
from dispatch.model import Policy, Provider, Station
from service.db import utcnow
from service.dispatching import faults
from service.dispatching.faults import BadRow, describe, elder_services, row_fault, usable_month
from service.dispatching.world import ContractedProvider, eligible_providers, registry_version
from service.elders.models import Elder
from service.lifecycle import moves, quota
from service.lifecycle.models import ServiceRequest
from service.lifecycle.transitions import RequestStatus
from service.months import first_day
from service.settings import Settings
from service.transactions import unit

TICK_BATCH = 200
# Offers written per transaction: an emergency selected by the next tick waits for at most this many.
OFFER_BATCH = 50
TICK_BUDGET_S = 2.0
log = logging.getLogger("homecare.dispatch")
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
    return Provider(
        id=str(provider.id),
        quota=provider.quota,
        services=frozenset(provider.services),
        areas=tuple(provider.areas),
        stations=tuple(Station(lat, lon) for lat, lon in provider.stations),
    )


class Registry:
    """The providers under contract in each month, indexed for the engine, kept from tick to tick while
    the registry stays as it is: loading and indexing them again every tick cost more than the offers."""

    def __init__(self, settings: Settings) -> None:
        self._policy = Policy(settings.max_km, settings.continuity_bonus_km)
        self._version: tuple | None = None
        self._months: dict[str, tuple[list[ContractedProvider], ProviderIndex]] = {}
        # Requests that failed and could not even be set aside: the dispatcher's ticks pass them by.
        self.passed_by: set[int] = set()

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
    rejected = [
        {"provider_id": int(r.provider), "km": round(r.km, 3), "reason": r.reason.rule, "detail": r.reason.detail}
        for r in choice.rejected
    ]
    if choice.provider is None:
        return {"kind": "instant", "provider_id": None, "why_nobody": rejected}
    return {
        "kind": "instant",
        "provider_id": int(choice.provider),
        "km": round(choice.km, 3),
        "nearer_rejected": rejected,
    }


def need(request: Row, declined: set[int]) -> InstantRequest:
    # A planned visit serves all the elder's needs; an ad-hoc request only the one asked for.
    services = elder_services(request.elder_services) if request.kind == "planned" else frozenset({request.service})
    urgency = request.urgency if request.urgency in ("urgent", "emergency") else "normal"
    return InstantRequest(
        lat=request.lat,
        lon=request.lon,
        area=request.area_code,
        services=services,
        urgency=urgency,
        declined=frozenset(str(p) for p in declined),
    )


def ranked(supply: MonthSupply, request: Row, excluded: set[int], limit: int) -> list[InstantChoice]:
    """The engine's choices for a request (a row of NEEDS), one after another: the nearest eligible
    provider, then the nearest with that one left out, and so on, up to `limit` providers, each choice with
    the nearer providers it passed by and why. The last choice has no provider when the eligible ran out."""
    choices: list[InstantChoice] = []
    left_out = set(excluded)
    while len(choices) < limit:
        choice = supply.index.assign(need(request, left_out), supply.visits_left)
        choices.append(choice)
        if choice.provider is None:
            break
        left_out.add(int(choice.provider))
    return choices


def _never() -> bool:
    return False


# The open requests a tick decides, with what the engine needs of their elders (columns, not ORM objects).
# The elder's services come as text, parsed request by request: one elder's unreadable JSON must not fail
# the read of them all.
NEEDS = select(
    ServiceRequest.id,
    ServiceRequest.month,
    ServiceRequest.kind,
    ServiceRequest.service,
    ServiceRequest.urgency,
    ServiceRequest.attempts,
    # An alert away from home (外出监护) is answered where it came from.
    func.coalesce(ServiceRequest.alert_lat, Elder.lat).label("lat"),
    func.coalesce(ServiceRequest.alert_lon, Elder.lon).label("lon"),
    Elder.area_code,
    cast(col(Elder.services), String).label("elder_services"),
).join(Elder, Elder.id == ServiceRequest.elder_id)
_OPEN = (
    NEEDS.where(
        ServiceRequest.status == RequestStatus.OPEN,
        not_(and_(ServiceRequest.kind == "planned", ServiceRequest.attempts == 0)),
    )
    .order_by(_URGENCY_ORDER, col(ServiceRequest.created_at), col(ServiceRequest.id))
    .limit(TICK_BATCH)
)


@dataclass
class _Batch:
    """What every batch of a tick shares."""

    sessions: async_sessionmaker
    settings: Settings
    registry: Registry
    supplies: dict[str, MonthSupply]
    declined: dict[int, set[int]]


async def dispatch_open_requests(
    sessions: async_sessionmaker,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    interrupt: Callable[[], bool] = _never,
    registry: Registry | None = None,
) -> Tick:
    """One tick. Safe to run twice, or twice at once. `registry`: the dispatcher's, kept between ticks.

    A request that cannot be dispatched for its own sake (its data, or a write the database refuses for it
    alone) is set aside (faults.py) and the others go on; a database that is away fails the tick."""
    started = time.monotonic()
    registry = registry or Registry(settings)
    async with sessions() as session:
        query = _OPEN.where(col(ServiceRequest.id).not_in(registry.passed_by)) if registry.passed_by else _OPEN
        rows = (await session.exec(query)).all()
        if not rows:
            return Tick(0, False)
        supplies, bad_months = {}, {}
        for month in {r.month for r in rows}:
            try:
                supplies[month] = await registry.supply(session, usable_month(month))
            except BadRow as exc:
                bad_months[month] = exc
        # A request never offered has nobody to exclude: only those tried before are looked up.
        declined = await moves.excluded_for(session, [r.id for r in rows if r.attempts])
    batch, selected = _Batch(sessions, settings, registry, supplies, declined), len(rows)
    if bad_months:
        await _set_aside(batch, [(r.id, bad_months[r.month]) for r in rows if r.month in bad_months], clock())
        rows = [r for r in rows if r.month in supplies]

    offered = 0
    for start in range(0, len(rows), OFFER_BATCH):
        if start and (interrupt() or time.monotonic() - started > TICK_BUDGET_S):
            return Tick(offered, True)
        offered += await _offer_batch(batch, rows[start : start + OFFER_BATCH], clock())
    return Tick(offered, selected == TICK_BATCH)


Failures = list[tuple[int, BaseException]]


async def _offer_batch(batch: _Batch, rows: list[Row], now: datetime) -> int:
    """Decide a batch and write its offers (`_attempt`); the number offered. When the database refuses
    the batch for a row's sake, its requests go one at a time and only those refused are set aside."""
    try:
        offered, failures = await _attempt(batch, rows, now)
    except Exception as exc:
        if not row_fault(exc):
            raise
        offered, failures = (0, [(rows[0].id, exc)]) if len(rows) == 1 else await _one_at_a_time(batch, rows, exc, now)
    if failures:
        await _set_aside(batch, failures, now)
    return offered


async def _one_at_a_time(batch: _Batch, rows: list[Row], refusal: Exception, now: datetime) -> tuple[int, Failures]:
    log.warning("a batch of %d requests was refused (%s): offering them one at a time", len(rows), describe(refusal))
    offered, failures, refused = 0, [], 0
    for row in rows:
        try:
            alone, failed = await _attempt(batch, [row], now)
        except Exception as exc:
            if not row_fault(exc):
                raise
            alone, failed, refused = 0, [(row.id, exc)], refused + 1
        offered, failures = offered + alone, failures + failed
    if refused == len(rows):  # refused each alone as well: the fault is not theirs but the database's or ours
        raise refusal
    return offered, failures


async def _attempt(batch: _Batch, rows: list[Row], now: datetime) -> tuple[int, Failures]:
    """Decide a batch and write its offers, a transaction (a unit) each round: the number offered, and the
    requests that could not be decided (their data), to be set aside. The quota picture is put back as it
    was if a round fails."""
    kept = {month: dict(batch.supplies[month].visits_left) for month in {r.month for r in rows}}
    offered, pending, failures = 0, rows, []
    try:
        while pending:  # again with those whose provider's quota turned out to be used (another dispatcher)
            async with unit(batch.sessions) as session:
                done, pending, failed = await _dispatch_round(
                    session, pending, batch.supplies, batch.declined, batch.settings, now
                )
            offered, failures = offered + done, failures + failed
        return offered, failures
    except BaseException:
        for month, left in kept.items():
            batch.supplies[month].visits_left = left
        raise


async def _set_aside(batch: _Batch, failures: Failures, now: datetime) -> None:
    """The requests leave `open` for `unassignable`, with the error as their explanation: together, or one
    at a time if the database refuses that."""
    for request_id, exc in failures:
        faults.report("dispatch", "request", request_id, exc)
    if not await _mark(batch, failures, now) and len(failures) > 1:
        for failure in failures:
            await _mark(batch, [failure], now)


async def _mark(batch: _Batch, failures: Failures, now: datetime) -> bool:
    try:
        async with unit(batch.sessions) as session:
            for request_id, exc in failures:
                await faults.set_aside(session, [request_id], exc, actor="dispatcher", now=now)
        return True
    except Exception as exc:
        if not row_fault(exc):
            raise
        if len(failures) == 1:
            # Not even marked: passed by from then on (in this process), so it cannot crowd out the rest.
            batch.registry.passed_by.add(failures[0][0])
            log.error(
                "dispatch: request %s could not be set aside either (%s); passed by until restart",
                failures[0][0],
                describe(exc),
            )
        return False


async def _dispatch_round(
    session,
    rows: list[Row],
    supplies: dict[str, MonthSupply],
    declined: dict[int, set[int]],
    settings: Settings,
    now: datetime,
) -> tuple[int, list[Row], Failures]:
    """Decide the requests and write their offers in the session's transaction: the number offered, the
    requests to decide again (their provider's quota was used meanwhile), and those that could not be
    decided (their data), to be set aside."""
    decided: list[tuple[Row, InstantChoice]] = []
    failures: Failures = []
    for request in rows:
        supply = supplies[request.month]
        try:
            choice = supply.index.assign(need(request, declined.get(request.id, set())), supply.visits_left)
        except Exception as exc:  # noqa: BLE001 - pure: only this request's data can make it fail
            failures.append((request.id, exc))
            continue
        if choice.provider is None:
            await moves.nobody(
                session, request.id, explain(choice), actor="dispatcher", now=now, urgency=request.urgency
            )
            continue
        supply.visits_left[choice.provider] -= 1
        decided.append((request, choice))
    result = await moves.offer_many(
        session,
        [
            moves.Offer(
                request.id, int(choice.provider), request.month, request.urgency, round(choice.km, 3), explain(choice)
            )
            for request, choice in decided
        ],
        actor="dispatcher",
        now=now,
        settings=settings,
    )
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
    return len(result.assignments), pending, failures
