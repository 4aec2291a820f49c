"""The elder registry: validation that needs the database, masking by role, audited writes."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.extent import district_box, refuse_outside
from service.areas.service import require_area
from service.audit.service import record_change, snapshot
from service.db import flush_or_conflict, utcnow
from service.elders.models import Elder
from service.elders.schemas import ElderCreate, ElderPublic, ElderUpdate
from service.errors import Conflict, NotFound
from service.identity import mask_id_number, mask_phone, normalise_id_number, normalise_phone
from service.schemas import StoredLocation
from service.tokens.service import Principal

_UNIQUE_FIELDS = ("id_number", "device_id")
ELDER_CLASH = "the change clashes with another elder (ID number or device already registered)"


def to_public(elder: Elder, principal: Principal) -> ElderPublic:
    admin = principal.role == "admin"
    return ElderPublic(
        **elder.model_dump(exclude={"lat", "lon", "id_number", "phone"}),
        id_number=elder.id_number if admin else mask_id_number(elder.id_number),
        phone=elder.phone if principal.role != "provider" else mask_phone(elder.phone),
        location=StoredLocation(lat=elder.lat, lon=elder.lon),
    )


async def get_elder(session: AsyncSession, elder_id: int) -> Elder:
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"elder {elder_id} does not exist")
    return elder


async def _refuse_duplicates(session: AsyncSession, values: dict, own_id: int | None = None) -> None:
    # Checked up front so the client is told which field clashes; the unique index still decides races.
    for field in _UNIQUE_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        clash = (await session.exec(select(Elder.id).where(getattr(Elder, field) == value))).first()
        if clash is not None and clash != own_id:
            raise Conflict(f"another elder (id {clash}) already has this {field}")


async def create_elder(session: AsyncSession, data: ElderCreate, principal: Principal) -> Elder:
    await require_area(session, data.area_code, field="area_code", level="community")
    values = data.model_dump(exclude={"location"})
    lat, lon = data.location.wgs84()
    refuse_outside(district_box(data.area_code), lat, lon, "location")
    await _refuse_duplicates(session, values)
    elder = Elder(**values, lat=lat, lon=lon)
    session.add(elder)
    await session.flush()
    record_change(session, actor=principal.actor, action="elder.create", entity="elder",
                  entity_id=elder.id, after=snapshot(elder))
    await flush_or_conflict(session, ELDER_CLASH)  # committed with its Idempotency-Key's answer
    return elder


async def update_elder(session: AsyncSession, elder_id: int, data: ElderUpdate, principal: Principal) -> Elder:
    elder = await get_elder(session, elder_id)
    changes = data.model_dump(exclude_unset=True, exclude={"location"})
    if data.area_code is not None:
        await require_area(session, data.area_code, field="area_code", level="community")
    lat, lon = data.location.wgs84() if data.location is not None else (elder.lat, elder.lon)
    if data.location is not None or data.area_code is not None:  # the home must stay in its district
        refuse_outside(district_box(data.area_code or elder.area_code), lat, lon,
                       "location" if data.location is not None else "area_code")
    await _refuse_duplicates(session, changes, own_id=elder.id)
    before = snapshot(elder)
    for field, value in changes.items():
        setattr(elder, field, value)
    elder.lat, elder.lon = lat, lon
    elder.updated_at = utcnow()
    record_change(session, actor=principal.actor, action="elder.update", entity="elder", entity_id=elder.id,
                  before=before, after=snapshot(elder))
    await flush_or_conflict(session, ELDER_CLASH)
    return elder


async def list_elders(
    session: AsyncSession, *, phone: str | None, q: str | None, area: str | None, status: str | None,
    after: int | None, limit: int,
) -> list[Elder]:
    query = select(Elder).order_by(Elder.id).limit(limit + 1)
    if phone:
        query = query.where(Elder.phone == normalise_phone(phone))
    if q:
        # A name fragment, or a whole ID number (operators read it off the elder's card).
        query = query.where(or_(Elder.name.contains(q, autoescape=True), Elder.id_number == normalise_id_number(q)))
    if area:
        query = query.where(Elder.area_code.startswith(area))
    if status:
        query = query.where(Elder.status == status)
    if after is not None:
        query = query.where(Elder.id > after)
    return list((await session.exec(query)).all())
