from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from service.catalogue import ProviderStatus
from service.elders.schemas import ServiceList
from service.schemas import Location, StoredLocation
from service.validation import AreaCode, Body, Day, Patch, Text, distinct


class StationIn(Body):
    name: Text = Field(min_length=1, max_length=100)
    location: Location


class StationOut(BaseModel):
    name: str
    location: StoredLocation


ProviderName = Annotated[Text, Field(min_length=1, max_length=100)]
Stations = Annotated[list[StationIn], Field(min_length=1, max_length=100)]
Areas = Annotated[list[AreaCode], Field(min_length=1, max_length=500), AfterValidator(distinct)]


class ProviderCreate(Body):
    name: ProviderName
    stations: Stations
    areas: Areas = Field(description="Contracted area codes; each covers every code it prefixes")
    services: ServiceList = Field(min_length=1)
    monthly_quota: int = Field(ge=0, le=10_000_000, description="Visits a month, at most")
    contract_start: Day
    contract_end: Day
    status: ProviderStatus = "active"

    @model_validator(mode="after")
    def _window(self) -> ProviderCreate:
        if self.contract_end < self.contract_start:
            raise ValueError("contract_end must not be before contract_start")
        return self


class ProviderUpdate(Patch):
    """Only the fields sent change; none may be null."""

    name: ProviderName = None
    stations: Stations = None
    areas: Areas = None
    services: ServiceList = Field(default=None, min_length=1)
    monthly_quota: int = Field(default=None, ge=0, le=10_000_000)
    contract_start: Day = None
    contract_end: Day = None
    status: ProviderStatus = None


class ProviderPublic(BaseModel):
    id: int
    name: str
    stations: list[StationOut]
    areas: list[str]
    services: list[str]
    monthly_quota: int
    contract_start: date
    contract_end: date
    status: str
    created_at: datetime
    updated_at: datetime
