"""What a provider's app pulls: its assignments, with just enough of the elder to make the visit.

The cursor is a position in (updated_at, id). A transaction may commit a little after the time it
stamped, so once an app has caught up the cursor is held back by FEED_LAG: rows changed in that
last stretch come again on the next pull (apps de-duplicate by id) rather than ever being missed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import utcnow
from service.elders.models import Elder
from service.errors import Invalid
from service.identity import mask_phone
from service.lifecycle.models import Assignment, ServiceRequest
from service.pagination import encode_cursor
from service.schemas import StoredLocation
from service.validation import EARLIEST, END_OF_TIME, MAX_ID

FEED_LAG = timedelta(seconds=10)
# Once an offer is declined, expired or cancelled the provider has no visit to make: it keeps the assignment's
# id and status (so its app can drop it) but no longer sees whom it was for or where they live.
ELDER_HIDDEN = frozenset({"declined", "expired", "cancelled"})


class ElderForVisit(BaseModel):
    name: str
    phone: str
    address: str
    location: StoredLocation


class ProviderAssignment(BaseModel):
    id: int
    request_id: int
    status: str
    service: str
    urgency: str
    alert_kind: str | None = Field(description="An alert's kind (fall, smoke, gas, sos …); null for a call")
    place: StoredLocation | None = Field(
        description="An alert away from home (外出监护): where to go (and check in) instead of the elder's home"
    )
    window_start: datetime | None
    window_end: datetime | None
    planned_date: date | None
    offered_at: datetime
    expires_at: datetime | None
    caregiver: str | None
    km: float | None
    updated_at: datetime
    elder: ElderForVisit | None = Field(
        description="Null once the assignment is declined, expired or cancelled: no visit, no personal data"
    )


def to_view(assignment: Assignment, request: ServiceRequest, elder: Elder) -> ProviderAssignment:
    return ProviderAssignment(
        id=assignment.id,
        request_id=request.id,
        status=assignment.status,
        service=request.service,
        urgency=request.urgency,
        alert_kind=request.alert_kind,
        place=None
        if request.alert_lat is None or request.alert_lon is None or assignment.status in ELDER_HIDDEN
        else StoredLocation(lat=request.alert_lat, lon=request.alert_lon),
        window_start=request.window_start,
        window_end=request.window_end,
        planned_date=request.planned_date,
        offered_at=assignment.offered_at,
        expires_at=assignment.expires_at,
        caregiver=assignment.caregiver,
        km=assignment.km,
        updated_at=assignment.updated_at,
        elder=None
        if assignment.status in ELDER_HIDDEN
        else ElderForVisit(
            name=elder.name,
            phone=mask_phone(elder.phone),
            address=elder.address,
            location=StoredLocation(lat=elder.lat, lon=elder.lon),
        ),
    )


def parse_position(position: dict | None) -> tuple[datetime, int] | None:
    if position is None:
        return None
    try:
        at, row_id = datetime.fromtimestamp(position["t"] / 1_000_000, UTC), position["id"]
        if type(row_id) is not int or not 0 <= row_id <= MAX_ID or not EARLIEST <= at < END_OF_TIME:
            raise ValueError
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise Invalid.field("cursor", "is not a cursor this service issued") from None
    return at, row_id


def _cursor(at: datetime, row_id: int) -> str:
    return encode_cursor({"t": int(at.timestamp() * 1_000_000), "id": row_id})


def assignments_of(provider_id: int):
    """A provider's assignments, each with the request and elder that `to_view` shows."""
    return (
        select(Assignment, ServiceRequest, Elder)
        .join(ServiceRequest, ServiceRequest.id == Assignment.request_id)
        .join(Elder, Elder.id == ServiceRequest.elder_id)
        .where(Assignment.provider_id == provider_id)
    )


async def pull(
    session: AsyncSession, provider_id: int, *, status: str | None, since: tuple[datetime, int] | None, limit: int
) -> tuple[list[ProviderAssignment], str]:
    query = assignments_of(provider_id).order_by(Assignment.updated_at, Assignment.id).limit(limit)
    if status:
        query = query.where(Assignment.status == status)
    if since is not None:
        at, row_id = since
        query = query.where(
            or_(col(Assignment.updated_at) > at, and_(Assignment.updated_at == at, col(Assignment.id) > row_id))
        )
    rows = (await session.exec(query)).all()
    items = [to_view(*row) for row in rows]
    if len(rows) == limit:  # more to come: continue right after the last row
        return items, _cursor(rows[-1][0].updated_at, rows[-1][0].id)
    # Caught up: never move past the horizon, behind which a late commit could still land.
    horizon = (utcnow() - FEED_LAG, 0)
    last = (rows[-1][0].updated_at, rows[-1][0].id) if rows else since
    return items, _cursor(*min(last or horizon, horizon))
