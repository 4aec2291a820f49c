from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.catalogue import DeviceKind, DeviceStatus
from service.elders.schemas import DeviceId
from service.validation import Body, DbId, Moment, Patch, Text


class GatewayCreate(Body):
    name: Text = Field(min_length=1, max_length=100, description="The vendor platform's name; unique")


class GatewayPublic(BaseModel):
    id: int
    name: str
    created_by: str
    created_at: datetime


class DeviceCreate(Body):
    device_id: DeviceId
    elder_id: DbId
    kind: DeviceKind
    gateway_id: DbId | None = Field(default=None, description="The gateway that relays it (its heartbeats)")


class DeviceUpdate(Patch):
    elder_id: DbId = None
    kind: DeviceKind = None
    gateway_id: DbId | None = None
    status: DeviceStatus = None


class DeviceAlertPublic(BaseModel):
    request_id: int
    kind: str
    at: datetime
    joined: bool = Field(description="The alert joined a live emergency request instead of making one")


class DevicePublic(BaseModel):
    id: int
    device_id: str
    elder_id: int
    gateway_id: int | None
    kind: str
    status: str
    last_seen_at: datetime = Field(description="The latest heartbeat or alert (at registration: the registration)")
    battery: int | None = Field(description="Per cent, from the latest heartbeat that gave it")
    silent: bool = Field(description="Active and not heard of for HOMECARE_DEVICE_SILENT_H (24) hours")
    created_at: datetime
    updated_at: datetime


class DeviceDetail(DevicePublic):
    alerts: list[DeviceAlertPublic] = Field(description="The latest 20 alerts it raised, newest first")


class Heartbeat(Body):
    device_id: DeviceId
    at: Moment | None = Field(default=None, description="When the device was heard; default now")
    battery: int | None = Field(default=None, ge=0, le=100, description="Per cent")


class HeartbeatAnswer(BaseModel):
    device_id: str
    last_seen_at: datetime
    battery: int | None
