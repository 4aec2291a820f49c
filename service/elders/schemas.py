from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from service.catalogue import ElderStatus, ServiceCode
from service.identity import id_number_problem, mobile_problem, normalise_id_number, normalise_phone
from service.schemas import Location, StoredLocation
from service.validation import AreaCode, Body, Identifier, Patch, Text, distinct


def _valid_id_number(value: str) -> str:
    value = normalise_id_number(value)
    problem = id_number_problem(value)
    if problem:
        raise ValueError(f"not a valid resident ID number: {problem}")
    return value


def _valid_phone(value: str) -> str:
    value = normalise_phone(value)
    problem = mobile_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


ServiceList = Annotated[list[ServiceCode], AfterValidator(distinct)]
Weekdays = Annotated[list[Annotated[int, Field(ge=0, le=6)]], AfterValidator(distinct)]
IdNumber = Annotated[str, Field(min_length=18, max_length=18), AfterValidator(_valid_id_number)]
Phone = Annotated[str, Field(min_length=11, max_length=20), AfterValidator(_valid_phone)]
Name = Annotated[Text, Field(min_length=1, max_length=50), AfterValidator(_not_blank)]
Address = Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
DeviceId = Annotated[Identifier, Field(min_length=1, max_length=64)]


class ElderCreate(Body):
    name: Name
    id_number: IdNumber
    phone: Phone
    address: Address
    location: Location
    area_code: AreaCode
    visits_per_month: int = Field(default=1, ge=0, le=2)
    min_minutes: int = Field(default=60, ge=60, le=480, description="The programme's floor is 60 minutes")
    services: ServiceList = Field(min_length=1)
    preferred_weekdays: Weekdays = Field(default_factory=list, description="0 = Monday … 6 = Sunday")
    living_alone: bool = False
    device_id: DeviceId | None = None
    status: ElderStatus = "active"


class ElderUpdate(Patch):
    """Only the fields sent change; `device_id: null` unregisters the elder's device."""

    name: Name = None
    id_number: IdNumber = None
    phone: Phone = None
    address: Address = None
    location: Location = None
    area_code: AreaCode = None
    visits_per_month: int = Field(default=None, ge=0, le=2)
    min_minutes: int = Field(default=None, ge=60, le=480)
    services: ServiceList = Field(default=None, min_length=1)
    preferred_weekdays: Weekdays = None
    living_alone: bool = None
    device_id: DeviceId | None = None
    status: ElderStatus = None


class ElderPublic(BaseModel):
    id: int
    name: str
    id_number: str = Field(description="Masked unless the caller is an admin")
    phone: str
    address: str
    location: StoredLocation
    area_code: str
    visits_per_month: int
    min_minutes: int
    services: list[str]
    preferred_weekdays: list[int]
    living_alone: bool
    device_id: str | None
    last_provider_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime
