from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from service.catalogue import ElderStatus, ServiceCode
from service.identity import id_number_problem, mobile_problem, normalise_phone
from service.schemas import Location, StoredLocation


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


def _valid_id_number(value: str) -> str:
    value = value.strip().upper()
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


ServiceList = Annotated[list[ServiceCode], AfterValidator(_distinct)]
Weekdays = Annotated[list[Annotated[int, Field(ge=0, le=6)]], AfterValidator(_distinct)]
IdNumber = Annotated[str, Field(min_length=18, max_length=18), AfterValidator(_valid_id_number)]
Phone = Annotated[str, Field(min_length=11, max_length=20), AfterValidator(_valid_phone)]
AreaCode = Annotated[str, Field(pattern=r"^\d{6}(\d{3}){0,2}$", description="6, 9 or 12 digits")]
Name = Annotated[str, Field(min_length=1, max_length=50)]


class ElderWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("name", "address", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class ElderCreate(ElderWrite):
    name: Name
    id_number: IdNumber
    phone: Phone
    address: str = Field(min_length=1, max_length=200)
    location: Location
    area_code: AreaCode
    visits_per_month: int = Field(default=1, ge=0, le=2)
    min_minutes: int = Field(default=60, ge=60, le=480, description="The programme's floor is 60 minutes")
    services: ServiceList = Field(min_length=1)
    preferred_weekdays: Weekdays = Field(default_factory=list, description="0 = Monday … 6 = Sunday")
    living_alone: bool = False
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    status: ElderStatus = "active"


class ElderUpdate(ElderWrite):
    name: Name | None = None
    id_number: IdNumber | None = None
    phone: Phone | None = None
    address: str | None = Field(default=None, min_length=1, max_length=200)
    location: Location | None = None
    area_code: AreaCode | None = None
    visits_per_month: int | None = Field(default=None, ge=0, le=2)
    min_minutes: int | None = Field(default=None, ge=60, le=480)
    services: ServiceList | None = Field(default=None, min_length=1)
    preferred_weekdays: Weekdays | None = None
    living_alone: bool | None = None
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    status: ElderStatus | None = None


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
