"""The monthly plan's rows: its planned requests, the elders the engine reads, and its offers.

Written a group of elders per transaction (`ELDERS_PER_TRANSACTION`), an elder's requests always in the
same one, so one elder's bad data or a write the database refuses for one elder never fails the plan:
such an elder is set aside (its requests `unassignable` with an error explanation, listed in the plan's
summary) and the others are planned (faults.py). A plan stopped half-way (its process killed) is
completed by running it again: only elders whose planned requests are all untouched take part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import String, cast, insert, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEvent
from service.audit.service import audit_row
from service.bulk import chunks, value_chunks
from service.catalogue import HOME_CARE_ITEM
from service.db import utcnow
from service.dispatching import faults
from service.dispatching.faults import BadRow
from service.elders.models import Elder
from service.entitlements import matching
from service.entitlements.service import policy_book, recorded_facts
from service.lifecycle import moves
from service.lifecycle.models import ServiceRequest
from service.lifecycle.transitions import Move, request_move
from service.months import first_day
from service.settings import Settings
from service.transactions import unit

ELDERS_PER_TRANSACTION = 2_000
_PLANNED = sqlite_insert(ServiceRequest.__table__).on_conflict_do_nothing()
_PLANNED_PG = text(
    "INSERT INTO service_request (elder_id, service, item, urgency, kind, channel, status, month, seq, attempts, "
    "created_by, created_at, updated_at) "
    f"SELECT t.elder_id, t.service, '{HOME_CARE_ITEM}', 'routine', 'planned', 'plan', 'open', "
    "CAST(:month AS VARCHAR), t.seq, 0, "
    "CAST(:actor AS VARCHAR), CAST(:now AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ) "
    "FROM unnest(CAST(:elders AS INTEGER[]), CAST(:services AS VARCHAR[]), CAST(:seqs AS INTEGER[])) "
    "AS t(elder_id, service, seq) ON CONFLICT DO NOTHING"
)
_CONTINUITY_PG = text(
    "UPDATE elder AS e SET last_provider_id = t.provider_id "
    "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:values AS INTEGER[])) AS t(id, provider_id) "
    # Most elders keep last month's provider: their rows are left as they are, not written again.
    "WHERE e.id = t.id AND e.last_provider_id IS DISTINCT FROM t.provider_id"
)
Refused = list[tuple[int, BaseException]]  # elder id, why it was set aside


async def create_planned_requests(sessions: async_sessionmaker, month: str, actor: str) -> tuple[int, Refused]:
    """One request per entitled visit (the unique (elder, month, seq) makes this safe to repeat): how many,
    and the elders left out (services unusable, or their requests refused by the database). Each elder's
    visits come from the entitlement policy in effect on the month's first day where it governs them
    (entitlements/), read set-wise: one query per table, never one per elder."""
    day = first_day(month)
    async with sessions() as session:
        elders = (
            await session.exec(
                select(
                    Elder.id,
                    Elder.id_number,
                    Elder.area_code,
                    Elder.visits_per_month,
                    Elder.visits_override_reason,
                    Elder.living_alone,
                    cast(col(Elder.services), String),
                ).where(Elder.status == "active")
            )
        ).all()
        book = await policy_book(session, day)
        categories, assessments = await recorded_facts(session, day)
        postgresql = session.bind.dialect.name == "postgresql"
    now = utcnow()
    wanted, unusable, decided = [], [], []
    for elder_id, id_number, area_code, registered, reason, alone, services in elders:
        facts = matching.facts_on(day, id_number, alone, categories.get(elder_id, ()), assessments.get(elder_id, ()))
        visits = matching.entitlement(book, area_code, facts, registered, reason).visits_per_month
        if visits != registered:  # the policy's number, kept on the elder for the reports and old clients
            decided.append((elder_id, visits))
        if visits < 1:
            continue
        # A planned visit serves all the elder's needs: it is the programme's home-care visit (its item, verified
        # by that item's rules); its request's `service` still names the first (main) need, which the engine
        # matches providers by.
        try:
            main = faults.elder_service_list(services)[0]
        except BadRow as exc:
            unusable.append((elder_id, exc))
            continue
        wanted.append(
            (
                elder_id,
                [
                    {
                        "elder_id": elder_id,
                        "service": main,
                        "item": HOME_CARE_ITEM,
                        "urgency": "routine",
                        "kind": "planned",
                        "channel": "plan",
                        "status": "open",
                        "month": month,
                        "seq": seq,
                        "attempts": 0,
                        "created_by": actor,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for seq in range(1, visits + 1)
                ],
            )
        )
    await _keep_entitlements(sessions, decided)

    async def write(session: AsyncSession, group: Sequence[tuple[int, list[dict]]]) -> int:
        # A statement built with .values(rows) carried every value as a parameter of its own: over the drivers'
        # limit at Guandu's size (12 columns x 5,000 rows), and seconds to compile. On PostgreSQL one
        # statement over arrays (a parameter per column); on SQLite one statement sent with a row of
        # parameters each (executemany), at most a statement's worth of rows at a time.
        rows = [row for _, rows in group for row in rows]
        connection = await session.connection()
        for chunk in value_chunks(rows):
            if postgresql:
                await connection.execute(
                    _PLANNED_PG,
                    {
                        "elders": [r["elder_id"] for r in chunk],
                        "services": [r["service"] for r in chunk],
                        "seqs": [r["seq"] for r in chunk],
                        "month": month,
                        "actor": actor,
                        "now": now,
                    },
                )
            else:
                await connection.execute(_PLANNED, chunk)
        return len(rows)

    planned, refused = await faults.in_groups(
        sessions, wanted, write, per_transaction=ELDERS_PER_TRANSACTION, what="planned requests"
    )
    return planned, unusable + refused


# What the engine reads of an elder; JSON columns as text, parsed elder by elder (faults.py).
_ELDER = select(
    Elder.id,
    Elder.lat,
    Elder.lon,
    Elder.area_code,
    Elder.visits_per_month,
    Elder.last_provider_id,
    cast(col(Elder.services), String).label("services"),
    cast(col(Elder.preferred_weekdays), String).label("weekdays"),
)


async def elder_dicts(session: AsyncSession, elder_ids: list[int]) -> tuple[list[dict], dict[str, frozenset], Refused]:
    """The elders in the engine's format, each one's preferred weekdays, and those whose data the engine
    cannot use."""
    elders, weekdays, unusable = [], {}, []
    for chunk in chunks(elder_ids):
        for e in (await session.exec(_ELDER.where(col(Elder.id).in_(chunk)))).all():
            try:
                services, days = faults.elder_service_list(e.services), faults.elder_weekdays(e.weekdays)
                if not (math.isfinite(e.lat) and math.isfinite(e.lon)):
                    raise BadRow("bad_elder_location", "the elder's location is not a number")
                if e.visits_per_month < 1:  # entitlement withdrawn after its planned requests were made
                    raise BadRow("no_entitlement", "the elder is no longer entitled to visits")
            except (BadRow, TypeError) as exc:
                unusable.append((e.id, exc))
                continue
            elders.append(
                {
                    "id": str(e.id),
                    "lat": e.lat,
                    "lon": e.lon,
                    "area": e.area_code,
                    "visits": e.visits_per_month,
                    "services": services,
                    "previous_provider": str(e.last_provider_id) if e.last_provider_id else None,
                }
            )
            if days:
                weekdays[str(e.id)] = days
    return elders, weekdays, unusable


@dataclass
class ElderPlan:
    """What the plan decided for one elder's planned requests (in seq order)."""

    requests: list[int]
    provider_id: int | None = None  # offered to it
    km: float | None = None
    explanation: dict | None = None
    days: list[date | None] = field(default_factory=list)
    unassigned: str | None = None  # nobody may take them: the engine's reason
    failure: BaseException | None = None  # set aside


async def write_plan(
    sessions: async_sessionmaker, settings: Settings, month: str, decided: list[tuple[int, ElderPlan]], actor: str
) -> tuple[int, Refused]:
    """Offers, unassignable and set-aside requests, elder group by elder group: how many offered, and the
    elders whose writes the database refused (the caller sets them aside)."""

    async def write(session: AsyncSession, group: Sequence[tuple[int, ElderPlan]]) -> int:
        now = utcnow()
        wanted = [
            moves.Offer(request_id, p.provider_id, month, "routine", p.km, p.explanation, day)
            for _, p in group
            if p.provider_id is not None
            for request_id, day in zip(p.requests, p.days, strict=True)
        ]
        # A provider whose quota the tick used meanwhile gets none of this group's share: those requests stay
        # open, and a run of the plan again offers them.
        offered = await moves.offer_many(session, wanted, actor=actor, now=now, settings=settings)
        continuity = [
            (elder, p.provider_id)
            for elder, p in group
            if p.provider_id is not None and (month, p.provider_id) not in offered.full
        ]
        await _keep_continuity(session, continuity)
        await _mark_unassignable(
            session, {r: p.unassigned for _, p in group if p.unassigned for r in p.requests}, actor, now
        )
        for _, p in group:
            if p.failure is not None:
                await faults.set_aside(session, p.requests, p.failure, actor=actor, now=now)
        return len(offered.assignments)

    return await faults.in_groups(sessions, decided, write, per_transaction=ELDERS_PER_TRANSACTION, what="plan offers")


async def set_aside(sessions: async_sessionmaker, requests: dict[int, list[int]], refused: Refused, actor: str) -> None:
    """The planned requests of elders whose writes were refused, set aside one elder at a time."""

    async def write(session: AsyncSession, group) -> int:
        for elder_id, exc in group:
            await faults.set_aside(session, requests.get(elder_id, []), exc, actor=actor, now=utcnow())
        return len(group)

    try:
        _, unmarked = await faults.in_groups(
            sessions, refused, write, per_transaction=len(refused) or 1, what="plan set-asides"
        )
    except Exception as exc:
        if not faults.row_fault(exc):
            raise
        unmarked = [(elder_id, exc) for elder_id, _ in refused]
    for elder_id, exc in unmarked:  # left open and untried: the next run of the plan tries them again
        faults.log.error(
            "monthly plan: the requests of elder %s could not be set aside (%s)", elder_id, faults.describe(exc)
        )


_ENTITLEMENT_PG = text(
    "UPDATE elder AS e SET visits_per_month = t.value "
    "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:values AS INTEGER[])) AS t(id, value) WHERE e.id = t.id"
)


async def _keep_entitlements(sessions: async_sessionmaker, decided: list[tuple[int, int]]) -> None:
    """The policy's visits a month written on the elders it changed (a handful a month once the first plan ran)."""
    if decided:
        async with unit(sessions) as session:
            await _set_elder_column(session, "visits_per_month", _ENTITLEMENT_PG, decided)


async def _keep_continuity(session: AsyncSession, providers: list[tuple[int, int]]) -> None:
    """Each elder's provider this month, the continuity bonus's "last provider" next month."""
    await _set_elder_column(session, "last_provider_id", _CONTINUITY_PG, providers)


async def _set_elder_column(session: AsyncSession, column: str, on_postgresql, pairs: list[tuple[int, int]]) -> None:
    """(elder id, value) pairs written to one column: one statement over arrays per chunk on PostgreSQL, a
    bulk update by primary key on SQLite."""
    connection = await session.connection()
    for chunk in chunks(pairs):
        if connection.dialect.name == "postgresql":
            await connection.execute(on_postgresql, {"ids": [e for e, _ in chunk], "values": [v for _, v in chunk]})
        else:
            await session.exec(update(Elder), params=[{"id": e, column: v} for e, v in chunk])


async def _mark_unassignable(session: AsyncSession, reasons: dict[int, str], actor: str, now: datetime) -> None:
    moved = await moves.move_open(
        session, {r: {"kind": "monthly_plan", "reason": why} for r, why in reasons.items()}, Move.NOBODY, now=now
    )
    events = [
        audit_row(
            actor=actor,
            action="request.status",
            entity="service_request",
            entity_id=r,
            at=now,
            after={"status": request_move(Move.NOBODY).target.value, "attempts": attempts, "reason": reasons[r]},
        )
        for r, attempts in moved.items()
    ]
    for chunk in chunks(events):
        await session.exec(insert(AuditEvent), params=chunk)
