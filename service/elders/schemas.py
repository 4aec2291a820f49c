from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from service.catalogue import AbilityLevel, ContactRelation, ElderStatus, RecordedCategory, ServiceCode
from service.identity import id_number_problem, mobile_problem, normalise_id_number, normalise_phone
from service.schemas import Location, StoredLocation
from service.validation import AreaCode, Body, Day, Identifier, Patch, Text, distinct


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
OverrideReason = Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
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
    visits_per_month: int = Field(
        default=None,
        ge=0,
        le=2,
        description=("For an elder the entitlement policy governs, an override: needs `visits_override_reason`"),
    )
    visits_override_reason: OverrideReason | None = Field(
        default=None, description=("Why `visits_per_month` overrides the policy; null: the policy decides again")
    )
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
    visits_per_month: int = Field(
        description=(
            "Visits a month: as registered, or for an elder the policy governs the entitlement of the latest "
            "planned month (GET /elders/{id}/entitlement says which)"
        )
    )
    visits_override_reason: str | None
    age: int | None = Field(description="Whole years today (Asia/Shanghai), from the ID number's birth date")
    min_minutes: int
    services: list[str]
    preferred_weekdays: list[int]
    living_alone: bool
    device_id: str | None
    last_provider_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime


class CategoryCreate(Body):
    category: RecordedCategory = Field(
        description="独居 living_alone, 空巢 empty_nest, 低保 dibao, 特困 tekun, "
        "优抚 youfu; the age groups are derived, never recorded"
    )
    since: Day = Field(description="First local day it applies (the survey's or the register's date)")
    source: Text = Field(min_length=1, max_length=200, description="Who established it: a survey, a register")


class CategoryPublic(BaseModel):
    category: str
    label: str
    derived: bool = Field(description="True for the age groups, which follow from the ID number's birth date")
    since: date | None
    source: str | None
    recorded_by: str | None = None
    recorded_at: datetime | None = None


class AssessmentCreate(Body):
    level: AbilityLevel = Field(description="GB/T 42195-2022: intact, mild, moderate, severe, total")
    assessed_on: Day
    assessor: Name = Field(description="The assessor or assessing organisation")
    next_review_on: Day = Field(description="When the elder is due to be assessed again; after assessed_on")


class AssessmentPublic(BaseModel):
    id: int
    elder_id: int
    level: str
    label: str
    assessed_on: date
    assessor: str
    next_review_on: date
    created_by: str
    created_at: datetime


class ContactCreate(Body):
    name: Name
    relation: ContactRelation
    phone: Phone
    guardian: bool = Field(default=False, description="The elder's guardian (监护人)")


class ContactPublic(BaseModel):
    id: int
    elder_id: int
    name: str
    relation: str
    phone: str = Field(description="Whole for admins and operators (they call the family), as the elder's")
    guardian: bool
    created_at: datetime


class RulePublic(BaseModel):
    index: int
    visits_per_month: int
    services: list[str]
    subsidy_cap_yuan: Decimal
    copay_share: Decimal


class EntitlementPublic(BaseModel):
    elder_id: int
    month: str
    on: date = Field(description="The day the policy, categories and assessment are read: the month's first")
    source: Literal["policy", "override", "registry"] = Field(
        description="policy: the area's policy decides; override: an operator's `visits_per_month` with a reason; "
        "registry: no policy governs the elder, `visits_per_month` as registered"
    )
    visits_per_month: int
    override_reason: str | None
    age: int | None
    categories: list[str]
    ability_level: str | None
    policy_id: int | None
    policy_name: str | None
    rule: RulePublic | None = Field(description="The policy's rule that admits the elder; null: none does")
