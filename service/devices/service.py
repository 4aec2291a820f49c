"""The device registry, gateways' heartbeats and the link from an alert to the device that raised it.

Services here flush and never commit: the router (with the Idempotency-Key's answer) commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.db import flush_or_conflict, utcnow
from service.devices.models import Device, DeviceAlert, DeviceGateway
from service.devices.schemas import (
    DeviceAlertPublic,
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceUpdate,
    GatewayCreate,
    GatewayPublic,
    Heartbeat,
    HeartbeatAnswer,
)
from service.elders.models import Elder
from service.errors import Conflict, Invalid, NotFound
from service.settings import Settings
from service.tokens.service import Principal

RECENT_ALERTS = 20


def silent_since(now: datetime, settings: Settings) -> datetime:
    """A device last heard of before this is silent."""
    return now - timedelta(hours=settings.device_silent_h)


def public(row: Device, now: datetime, settings: Settings) -> DevicePublic:
    silent = row.status == "active" and row.last_seen_at < silent_since(now, settings)
    return DevicePublic(**row.model_dump(exclude={"created_by"}), silent=silent)


async def create_gateway(session: AsyncSession, data: GatewayCreate, principal: Principal) -> GatewayPublic:
    row = DeviceGateway(name=data.name.strip(), created_by=principal.actor, created_at=utcnow())
    if not row.name:
        raise Invalid.field("name", "must not be blank")
    session.add(row)
    await flush_or_conflict(session, f"a gateway named {row.name} exists already")
    record_change(
        session,
        actor=principal.actor,
        action="gateway.create",
        entity="device_gateway",
        entity_id=row.id,
        after={"name": row.name},
        at=row.created_at,
    )
    return GatewayPublic.model_validate(row, from_attributes=True)


async def list_gateways(session: AsyncSession) -> list[GatewayPublic]:
    rows = (await session.exec(select(DeviceGateway).order_by(DeviceGateway.id))).all()
    return [GatewayPublic.model_validate(r, from_attributes=True) for r in rows]


async def _check_refs(session: AsyncSession, elder_id: int | None, gateway_id: int | None) -> None:
    if elder_id is not None and await session.get(Elder, elder_id) is None:
        raise Invalid.field("elder_id", f"elder {elder_id} does not exist")
    if gateway_id is not None and await session.get(DeviceGateway, gateway_id) is None:
        raise Invalid.field("gateway_id", f"gateway {gateway_id} does not exist")


async def register(session: AsyncSession, data: DeviceCreate, principal: Principal, settings: Settings) -> DevicePublic:
    await _check_refs(session, data.elder_id, data.gateway_id)
    # The elder registry's own device_id (one per elder, from before the registry) must not name another
    # elder's device: an alert by that id would find two elders.
    holder = (await session.exec(select(Elder.id).where(Elder.device_id == data.device_id))).first()
    if holder is not None and holder != data.elder_id:
        raise Conflict(f"device {data.device_id} is already another elder's device")
    now = utcnow()
    row = Device(
        **data.model_dump(),
        status="active",
        last_seen_at=now,
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await flush_or_conflict(session, f"device {data.device_id} is already registered")
    record_change(
        session,
        actor=principal.actor,
        action="device.create",
        entity="device",
        entity_id=row.id,
        after={"device_id": row.device_id, "elder_id": row.elder_id, "kind": row.kind, "gateway_id": row.gateway_id},
        at=now,
    )
    return public(row, now, settings)


async def get_device(session: AsyncSession, device_pk: int) -> Device:
    row = await session.get(Device, device_pk)
    if row is None:
        raise NotFound(f"device {device_pk} does not exist")
    return row


async def detail(session: AsyncSession, row: Device, settings: Settings) -> DeviceDetail:
    alerts = (
        await session.exec(
            select(DeviceAlert)
            .where(DeviceAlert.device_pk == row.id)
            .order_by(col(DeviceAlert.id).desc())
            .limit(RECENT_ALERTS)
        )
    ).all()
    return DeviceDetail(
        **public(row, utcnow(), settings).model_dump(),
        alerts=[DeviceAlertPublic.model_validate(a, from_attributes=True) for a in alerts],
    )


async def update_device(
    session: AsyncSession, device_pk: int, data: DeviceUpdate, principal: Principal, settings: Settings
) -> DevicePublic:
    row = await get_device(session, device_pk)
    changes = data.model_dump(exclude_unset=True)
    await _check_refs(session, changes.get("elder_id"), changes.get("gateway_id"))
    before = {k: getattr(row, k) for k in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=principal.actor,
        action="device.update",
        entity="device",
        entity_id=row.id,
        before=before,
        after=changes,
        at=row.updated_at,
    )
    return public(row, row.updated_at, settings)


async def list_devices(
    session: AsyncSession,
    settings: Settings,
    *,
    elder_id: int | None,
    gateway_id: int | None,
    silent: bool | None,
    after: int | None,
    limit: int,
) -> Sequence[Device]:
    query = select(Device).order_by(Device.id).limit(limit + 1)
    if elder_id is not None:
        query = query.where(Device.elder_id == elder_id)
    if gateway_id is not None:
        query = query.where(Device.gateway_id == gateway_id)
    if silent is not None:
        cut = silent_since(utcnow(), settings)
        is_silent = (Device.status == "active") & (col(Device.last_seen_at) < cut)
        query = query.where(is_silent if silent else ~is_silent)
    if after is not None:
        query = query.where(col(Device.id) > after)
    return (await session.exec(query)).all()


async def heartbeat(
    session: AsyncSession, data: Heartbeat, principal: Principal, settings: Settings
) -> HeartbeatAnswer:
    """A gateway says it heard one of its devices. Another gateway's device and an unknown one are the same
    404: a gateway learns nothing of devices that are not its own."""
    now = utcnow()
    at = data.at or now
    if at > now + timedelta(seconds=settings.clock_skew_s):
        raise Invalid.field("at", "is in the future beyond the allowed clock skew")
    row = (
        await session.exec(
            select(Device).where(Device.device_id == data.device_id, Device.gateway_id == principal.gateway_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"device {data.device_id} is not one of this gateway's devices")
    values: dict = {}
    if at > row.last_seen_at:  # a late heartbeat never moves last_seen back
        values["last_seen_at"] = at
        if data.battery is not None:  # the battery of the newest report counts
            values["battery"] = data.battery
    elif row.battery is None and data.battery is not None:
        values["battery"] = data.battery
    if values:
        await session.exec(update(Device).where(Device.id == row.id).values(updated_at=now, **values))
        await session.refresh(row)
    return HeartbeatAnswer(device_id=row.device_id, last_seen_at=row.last_seen_at, battery=row.battery)


async def registered_device(session: AsyncSession, device_id: str) -> tuple[Device | None, bool]:
    """The registered device with this id (or None), and whether the elder registry's own `device_id` names
    it too (an elder's device from before the registry: the alert then goes by it, as it always did)."""
    device = (await session.exec(select(Device).where(Device.device_id == device_id))).first()
    legacy = (await session.exec(select(Elder.id).where(Elder.device_id == device_id))).first() is not None
    return device, legacy


async def link_alert(
    session: AsyncSession, device: Device, request_id: int, kind: str, at: datetime, *, joined: bool
) -> None:
    """Record that the device raised this alert (the request it made or joined); a press is a sign of life."""
    now = utcnow()
    session.add(
        DeviceAlert(device_pk=device.id, request_id=request_id, kind=kind, at=at, joined=joined, created_at=now)
    )
    seen = min(at, now)
    await session.exec(
        update(Device)
        .where(Device.id == device.id, col(Device.last_seen_at) < seen)
        .values(last_seen_at=seen, updated_at=now)
    )
    await session.flush()


def silent_device_of(elder_id_column, as_of: datetime, settings: Settings):
    """SQL: the elder has an active device unheard of for HOMECARE_DEVICE_SILENT_H before `as_of`."""
    return exists().where(
        Device.elder_id == elder_id_column,
        Device.status == "active",
        col(Device.last_seen_at) < silent_since(as_of, settings),
    )


async def silent_devices(
    session: AsyncSession, elder_ids: Sequence[int], as_of: datetime, settings: Settings
) -> dict[int, list[Device]]:
    rows = (
        await session.exec(
            select(Device)
            .where(
                col(Device.elder_id).in_(elder_ids),
                Device.status == "active",
                col(Device.last_seen_at) < silent_since(as_of, settings),
            )
            .order_by(Device.id)
        )
    ).all()
    found: dict[int, list[Device]] = {}
    for row in rows:
        found.setdefault(row.elder_id, []).append(row)
    return found
