"""The follow-up queue: whom the call centre should call first.

Risk first: visits that failed verification (was anyone really there, and for how long?), then
visits by providers new to the programme, then a random sample of the ordinary rest. The sample is
a fixed pseudo-random draw per month (a multiplicative hash of the visit id), so the queue is the
same on every page and every operator's screen, and keyset pagination stays stable.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, and_, case, cast, literal, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.elders.models import Elder
from service.followups.schemas import ElderToCall, QueueItem
from service.lifecycle.models import ServiceRequest
from service.months import first_day, month_bounds, previous_month
from service.providers.models import Provider
from service.reports.figures import visit_requests
from service.reports.scope import ReportArea
from service.settings import Settings
from service.visits.models import FollowUp, Visit

RISKS = {1: "exception", 2: "new_provider", 3: "sample"}
SAMPLE_MODULUS = 10007  # a prime: the hash spreads ids evenly over it
KNUTH = 2654435761


def new_since(month: str, months_new: int) -> date:
    """A provider whose contract started on or after this day is still new in `month`."""
    for _ in range(months_new - 1):
        month = previous_month(month)
    return first_day(month)


def ranking(month: str, settings: Settings):
    tier = case(
        (Visit.status == "exception", 1),
        (col(Provider.contract_start) >= new_since(month, settings.new_provider_months), 2),
        else_=3,
    )
    salt = int(month.replace("-", ""))
    hashed = cast(Visit.id, BigInteger) * literal(KNUTH, BigInteger) + literal(salt, BigInteger)
    draw = hashed % SAMPLE_MODULUS
    return tier, draw


async def follow_up_queue(
    session: AsyncSession,
    settings: Settings,
    *,
    month: str,
    area: ReportArea,
    after: tuple[int, int, int] | None,
    limit: int,
) -> list[tuple[QueueItem, tuple]]:
    """Up to limit + 1 items, each with its position (for the next page's cursor)."""
    start, end = month_bounds(month, settings.tz)
    tier, draw = ranking(month, settings)
    query = (
        visit_requests(
            area,
            Visit.id,
            ServiceRequest.id,
            tier,
            draw,
            Elder.id,
            Elder.name,
            Elder.phone,
            Elder.area_code,
            Visit.provider_id,
            Provider.name,
            Visit.caregiver,
            ServiceRequest.service,
            Visit.check_in_at,
            Visit.status,
            Visit.exceptions,
            during=(start, end),
        )
        .join(Provider, col(Provider.id) == Visit.provider_id)
        .outerjoin(
            FollowUp,
            col(FollowUp.visit_id) == Visit.id,
        )
        .where(
            col(FollowUp.id).is_(None),
            Visit.status != "in_progress",
            Elder.status != "deceased",
            or_(tier < 3, draw < int(settings.follow_up_sample_rate * SAMPLE_MODULUS)),
        )
        .order_by(tier, draw, Visit.id)
        .limit(limit + 1)
    )
    if after is not None:
        t, d, visit_id = after
        query = query.where(or_(tier > t, and_(tier == t, draw > d), and_(tier == t, draw == d, Visit.id > visit_id)))
    items = []
    for (
        visit_id,
        request_id,
        rank,
        key,
        elder_id,
        name,
        phone,
        area_code,
        provider_id,
        provider_name,
        caregiver,
        service,
        check_in,
        status,
        codes,
    ) in (await session.exec(query)).all():
        item = QueueItem(
            visit_id=visit_id,
            request_id=request_id,
            risk=RISKS[rank],
            elder=ElderToCall(id=elder_id, name=name, phone=phone, area_code=area_code),
            provider_id=provider_id,
            provider_name=provider_name,
            caregiver=caregiver,
            service=service,
            check_in_at=check_in.astimezone(settings.tz),
            status=status,
            exceptions=list(codes),
        )
        items.append((item, (rank, int(key), visit_id)))
    return items
