from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from service.validation import Body, Text


class FollowUpCreate(Body):
    satisfaction: int = Field(ge=1, le=5, description="1 very unhappy … 5 very satisfied")
    complaint: Text | None = Field(default=None, max_length=1000, description="What the elder complained of")

    @field_validator("complaint")
    @classmethod
    def _blank_is_none(cls, text: str | None) -> str | None:
        return text.strip() or None if text is not None else None


class FollowUpPublic(BaseModel):
    id: int
    visit_id: int
    satisfaction: int
    complaint: str | None
    created_by: str
    created_at: datetime


Risk = Literal["exception", "new_provider", "sample"]


class ElderToCall(BaseModel):
    id: int
    name: str
    phone: str = Field(description="Whole: operators make the call")
    area_code: str


class QueueItem(BaseModel):
    visit_id: int
    request_id: int
    risk: Risk = Field(
        description="Why this call: a failed verification, a provider new to the programme, "
        "or the random sample of ordinary visits"
    )
    elder: ElderToCall
    provider_id: int
    provider_name: str
    caregiver: str | None
    service: str
    check_in_at: datetime
    status: str
    exceptions: list[str]
