from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from service.catalogue import ProviderStatus
from service.elders.schemas import AreaCode, ServiceList, _distinct
from service.schemas import Location, StoredLocation


class StationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    location: Location


class StationOut(BaseModel):
    name: str
    location: StoredLocation


Stations = Annotated[list[StationIn], Field(min_length=1, max_length=100)]
Areas = Annotated[list[AreaCode], Field(min_length=1, max_length=500), AfterValidator(_distinct)]


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    stations: Stations
    areas: Areas = Field(description="Contracted area codes; each covers every code it prefixes")
    services: ServiceList = Field(min_length=1)
    monthly_quota: int = Field(ge=0, le=10_000_000, description="Visits a month, at most")
    contract_start: date
    contract_end: date
    status: ProviderStatus = "active"

    @model_validator(mode="after")
    def _window(self) -> ProviderCreate:
        if self.contract_end < self.contract_start:
            raise ValueError("contract_end must not be before contract_start")
        return self


class ProviderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    stations: Stations | None = None
    areas: Areas | None = None
    services: ServiceList | None = Field(default=None, min_length=1)
    monthly_quota: int | None = Field(default=None, ge=0, le=10_000_000)
    contract_start: date | None = None
    contract_end: date | None = None
    status: ProviderStatus | None = None


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
