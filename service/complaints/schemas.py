from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from service.validation import Body, DbId, Text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


Words = Annotated[Text, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]


class ComplaintCreate(Body):
    visit_id: DbId | None = Field(default=None, description="The visit complained of: its elder and provider")
    elder_id: DbId | None = Field(default=None, description="Without a visit: the elder who complains")
    provider_id: DbId | None = Field(default=None, description="Without a visit: the provider concerned, if any")
    text: Words

    @model_validator(mode="after")
    def _subject(self) -> ComplaintCreate:
        if (self.visit_id is None) == (self.elder_id is None):
            raise ValueError("give exactly one of visit_id and elder_id")
        if self.visit_id is not None and self.provider_id is not None:
            raise ValueError("a visit names its provider: leave provider_id out")
        return self


class ComplaintAnswer(Body):
    answer: Words


class ComplaintResolve(Body):
    resolution: Words


class ComplaintPublic(BaseModel):
    id: int
    status: str
    elder_id: int
    area_code: str
    visit_id: int | None
    follow_up_id: int | None
    call_id: int | None = Field(description="The call in which it was taken")
    provider_id: int | None
    text: str
    opened_by: str
    opened_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    updated_at: datetime
    age_hours: float | None = Field(description="Hours since it was opened, while it is not resolved")


class ProviderComplaint(BaseModel):
    """What the provider's app sees: the complaint about its work, never the elder's identity data."""

    id: int
    status: str
    visit_id: int | None
    text: str
    opened_at: datetime
    answer: str | None
    answered_at: datetime | None
    resolution: str | None
    resolved_at: datetime | None
    updated_at: datetime
    age_hours: float | None
