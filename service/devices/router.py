"""The device registry (admins write, operators read), gateways and their devices' heartbeats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Admin, Gateway, Staff
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.devices import service
from service.devices.schemas import (
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceUpdate,
    GatewayCreate,
    GatewayPublic,
    Heartbeat,
    HeartbeatAnswer,
)
from service.idempotency.service import IdempotencyDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.schemas import Page
from service.validation import IdPath, IdQuery

router = APIRouter(prefix="/api/v1", tags=["devices"])
NOT_FOUND = {404: {"description": "No such device"}}
INVALID = {422: {"description": "A field is invalid (named in `errors`)"}}


@router.post(
    "/gateways",
    status_code=201,
    response_model=GatewayPublic,
    responses={409: {"description": "The name is taken, or the Idempotency-Key is in flight"}, **INVALID},
)
async def create_gateway(body: GatewayCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep):
    """A device gateway; its tokens (role `gateway`) are made with POST /tokens."""
    return await idempotency.run(body, lambda: service.create_gateway(session, body, principal), GatewayPublic)


@router.get("/gateways", response_model=list[GatewayPublic])
async def list_gateways(session: SessionDep, _: Admin) -> list[GatewayPublic]:
    return await service.list_gateways(session)


@router.post(
    "/devices",
    status_code=201,
    response_model=DevicePublic,
    responses={
        409: {
            "description": "The device is registered already (or is another elder's), "
            "or the Idempotency-Key is in flight"
        },
        **INVALID,
    },
)
async def register_device(
    body: DeviceCreate, session: SessionDep, principal: Admin, settings: SettingsDep, idempotency: IdempotencyDep
):
    return await idempotency.run(body, lambda: service.register(session, body, principal, settings), DevicePublic)


@router.get("/devices", response_model=Page[DevicePublic], responses=INVALID)
async def list_devices(
    session: SessionDep,
    _: Staff,
    settings: SettingsDep,
    elder_id: IdQuery = None,
    gateway_id: IdQuery = None,
    silent: Annotated[bool | None, Query(description="Only silent (true) or only heard-of (false) devices")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DevicePublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_devices(
        session,
        settings,
        elder_id=elder_id,
        gateway_id=gateway_id,
        silent=silent,
        after=position["after"] if position else None,
        limit=limit,
    )
    now = utcnow()
    return Page(items=[service.public(r, now, settings) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.get("/devices/{device_pk}", response_model=DeviceDetail, responses=NOT_FOUND)
async def get_device(device_pk: IdPath, session: SessionDep, _: Staff, settings: SettingsDep) -> DeviceDetail:
    return await service.detail(session, await service.get_device(session, device_pk), settings)


@router.patch("/devices/{device_pk}", response_model=DevicePublic, responses={**NOT_FOUND, **INVALID})
async def update_device(
    device_pk: IdPath, body: DeviceUpdate, session: SessionDep, principal: Admin, settings: SettingsDep
) -> DevicePublic:
    return await service.update_device(session, device_pk, body, principal, settings)


@router.post(
    "/gateway/heartbeats",
    response_model=HeartbeatAnswer,
    responses={404: {"description": "No such device on this gateway (another gateway's is the same 404)"}, **INVALID},
)
async def heartbeat(body: Heartbeat, session: SessionDep, principal: Gateway, settings: SettingsDep):
    """A gateway heard one of its devices: last seen (never moved back) and battery."""
    return await service.heartbeat(session, body, principal, settings)
