from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.calls.schemas import CallPublic

Reason = Literal["no_contact", "silent_device", "birthday"]


class ElderToCare(BaseModel):
    id: int
    name: str
    phone: str = Field(description="Masked (138****5678); GET /elders/{id} gives it whole to operators")
    area_code: str
    living_alone: bool
    age: int = Field(description="On the list's day, from the ID number's birth date")


class SilentDevice(BaseModel):
    id: int
    device_id: str
    kind: str
    last_seen_at: datetime
    battery: int | None


class CareItem(BaseModel):
    elder: ElderToCare
    reasons: list[Reason] = Field(
        description="no_contact: living alone or 80+ and nobody in touch for `days`; silent_device; birthday"
    )
    last_contact_at: datetime | None = Field(
        description="The latest visit, follow-up or call that reached the elder, before the list's moment"
    )
    silent_devices: list[SilentDevice]
    calls: list[CallPublic] = Field(description="Calls with the elder on the list's day (the outcomes so far)")


class CareList(BaseModel):
    date: date
    as_of: datetime = Field(description="The moment the list is computed for: now, or the end of a past day")
    days: int = Field(description="Days without contact that put an elder of the target group on the list")
    items: list[CareItem]
    next_cursor: str | None
