from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from service.catalogue import DEVICE_KINDS, DEVICE_STATUSES, sql_in
from service.db import UTCDateTime, utcnow


class DeviceGateway(SQLModel, table=True):
    """A device gateway (the vendor's platform that relays one-touch phones and sensors); it holds
    tokens of role `gateway` and reports the heartbeats of its own devices only."""

    __tablename__ = "device_gateway"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Device(SQLModel, table=True):
    """A registered one-touch phone (一键通) or home sensor, in an elder's home."""

    __tablename__ = "device"
    __table_args__ = (
        CheckConstraint(sql_in("kind", DEVICE_KINDS), name="device_kind"),
        CheckConstraint(sql_in("status", DEVICE_STATUSES), name="device_status"),
        CheckConstraint("battery IS NULL OR battery BETWEEN 0 AND 100", name="device_battery"),
        # The silence check reads active devices by when they were last heard of.
        Index("ix_device_status_last_seen", "status", "last_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64, unique=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    gateway_id: int | None = Field(default=None, foreign_key="device_gateway.id", index=True)
    kind: str = Field(max_length=20)
    status: str = Field(default="active", max_length=10)
    # Registration counts as being heard of: a device is silent 24 h after it was last seen or registered.
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    battery: int | None = None
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeviceAlert(SQLModel, table=True):
    """An alert a registered device raised (POST /alerts), linked to the request it made or joined."""

    __tablename__ = "device_alert"

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="device.id", index=True)
    request_id: int = Field(foreign_key="service_request.id", index=True)
    kind: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime)
    joined: bool = Field(description="The alert joined a live emergency instead of making a request")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
