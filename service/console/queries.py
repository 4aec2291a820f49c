"""The console's own reads: caller search, the elder card's history and the dispatch board.

Reads only; every write goes through the API's handlers (gateway.py). The elder is shown through the API's
own `to_public`, so masking is the API's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.elders.models import Elder
from service.lifecycle.models import Assignment, ServiceRequest
from service.months import month_bounds
from service.providers.models import Provider
from service.visits.models import FollowUp, Visit

SEARCH_LIMIT = 20
LIVE = ("open", "assigned", "escalated", "accepted", "in_progress")
# The board's columns: a request's status, with `assigned` shown as offered (an offer awaits the provider).
# `escalated` has its column too (and heads the board in the escalation queue): the board drops no live request.
BOARD_COLUMNS = (
    ("open", "待派"),
    ("assigned", "已派待接"),
    ("escalated", "已升级"),
    ("accepted", "已接单"),
    ("in_progress", "服务中"),
    ("completed", "已完成"),
    ("unassignable", "无法派单"),
)


def search_kind(text: str) -> tuple[str, str]:
    """What the operator typed: an 11-digit mobile (`phone`), 4–18 digits or X (`id_tail`, the end of an ID
    number), else a name or part of one (`name`)."""
    text = unicodedata.normalize("NFKC", text).strip().replace(" ", "").replace("-", "")
    text = text.removeprefix("+86")
    if re.fullmatch(r"1[3-9]\d{9}", text):
        return "phone", text
    if re.fullmatch(r"\d{3,17}[\dXx]", text):
        return "id_tail", text.upper()
    return "name", text


async def search_elders(session: AsyncSession, text: str) -> list[Elder]:
    """Elders matching what the operator typed, active ones first, at most SEARCH_LIMIT. A phone number and the
    beginning of a name are index lookups (the name's: service/console/models.py); a fragment from the middle
    of a name is looked for only when no name begins with it; the end of an ID number is one on PostgreSQL (by
    its reversal) and reads the elders on SQLite."""
    kind, value = search_kind(text)
    if not value:
        return []
    if kind == "phone":
        return await _elders(session, Elder.phone == value)
    if kind == "id_tail":
        return await _elders(session, _id_number_ends_with(session, value))
    found = await _elders(session, col(Elder.name).startswith(value, autoescape=True))
    return found or await _elders(session, col(Elder.name).contains(value, autoescape=True))


def _id_number_ends_with(session: AsyncSession, tail: str):
    """`tail` is digits and X only (search_kind); LIKE's wildcards are escaped all the same. On PostgreSQL the
    beginning of the reversed ID number, which its index serves (service/console/models.py); SQLite has no
    reverse(), so there the end of the ID number, reading the elders."""
    if session.bind.dialect.name == "postgresql":
        return func.reverse(Elder.id_number).startswith(tail[::-1], autoescape=True)
    return col(Elder.id_number).endswith(tail, autoescape=True)


async def _elders(session: AsyncSession, condition) -> list[Elder]:
    query = select(Elder).where(condition).order_by(Elder.status != "active", Elder.id).limit(SEARCH_LIMIT)
    return list((await session.exec(query)).all())


@dataclass
class CardHistory:
    verified_this_month: int
    visits_this_month: int
    open_requests: list[ServiceRequest]
    recent: list[ServiceRequest]
    last_follow_up: FollowUp | None


async def card_history(session: AsyncSession, elder_id: int, month: str, tz) -> CardHistory:
    start, end = month_bounds(month, tz)
    in_month = and_(Visit.elder_id == elder_id, col(Visit.check_in_at) >= start, col(Visit.check_in_at) < end)
    counts = (
        await session.exec(select(func.count(), func.count().filter(Visit.status == "verified")).where(in_month))
    ).one()
    open_requests = (
        await session.exec(
            select(ServiceRequest)
            .where(ServiceRequest.elder_id == elder_id, col(ServiceRequest.status).in_(LIVE))
            .order_by(col(ServiceRequest.id).desc())
            .limit(20)
        )
    ).all()
    recent = (
        await session.exec(
            select(ServiceRequest)
            .where(ServiceRequest.elder_id == elder_id)
            .order_by(col(ServiceRequest.id).desc())
            .limit(8)
        )
    ).all()
    follow_up = (
        await session.exec(
            select(FollowUp)
            .join(Visit, col(Visit.id) == FollowUp.visit_id)
            .where(Visit.elder_id == elder_id)
            .order_by(col(FollowUp.created_at).desc())
            .limit(1)
        )
    ).first()
    return CardHistory(counts[1], counts[0], list(open_requests), list(recent), follow_up)


@dataclass
class BoardCard:
    id: int
    elder_id: int
    elder_name: str
    service: str
    urgency: str
    status: str
    created_at: datetime
    provider: str | None


async def board(session: AsyncSession, day_start: datetime, per_column: int = 40) -> dict[str, list[BoardCard]]:
    """Today's requests (made since local midnight, or planned for today) and every live emergency, by status,
    emergencies first, then newest first; with the provider of the live (or last) offer."""
    today = (day_start + timedelta(hours=12)).date()
    live_offer = (
        select(Assignment.request_id, func.max(Assignment.id).label("assignment_id"))
        .group_by(Assignment.request_id)
        .subquery()
    )
    query = (
        select(
            ServiceRequest.id,
            ServiceRequest.elder_id,
            Elder.name,
            ServiceRequest.service,
            ServiceRequest.urgency,
            ServiceRequest.status,
            ServiceRequest.created_at,
            Provider.name,
        )
        .join(Elder, col(Elder.id) == ServiceRequest.elder_id)
        .outerjoin(live_offer, live_offer.c.request_id == ServiceRequest.id)
        .outerjoin(Assignment, col(Assignment.id) == live_offer.c.assignment_id)
        .outerjoin(Provider, col(Provider.id) == Assignment.provider_id)
        .where(
            or_(
                col(ServiceRequest.created_at) >= day_start,
                ServiceRequest.planned_date == today,
                and_(ServiceRequest.urgency == "emergency", col(ServiceRequest.status).in_(LIVE)),
            )
        )
        .order_by(ServiceRequest.urgency != "emergency", col(ServiceRequest.id).desc())
        .limit(1000)
    )
    columns: dict[str, list[BoardCard]] = {code: [] for code, _ in BOARD_COLUMNS}
    for row in (await session.exec(query)).all():
        cards = columns.get(row[5])
        if cards is not None and len(cards) < per_column:
            cards.append(BoardCard(*row))
    return columns
