from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from service.catalogue import CALL_TYPES, CallOutcome, CallType
from service.elders.schemas import Phone
from service.validation import Body, DbId, Moment, Text


class CallCreate(Body):
    type: CallType
    outcome: CallOutcome
    elder_id: DbId | None = Field(default=None, description="The elder the call was with, when known")
    phone: Phone | None = Field(default=None, description="The caller's number (a hang-up from an unknown number)")
    request_id: DbId | None = Field(default=None, description="The request the call made (outcome request_created)")
    callback_of: DbId | None = Field(default=None, description="Type callback: the call this one calls back")
    note: Text | None = Field(default=None, max_length=500)
    at: Moment | None = Field(default=None, description="When the call was; default now")

    @field_validator("note")
    @classmethod
    def _blank_is_none(cls, text: str | None) -> str | None:
        return text.strip() or None if text is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> CallCreate:
        if self.elder_id is None and self.phone is None:
            raise ValueError("give elder_id or phone: whom the call was with")
        if (self.type == "callback") != (self.callback_of is not None):
            raise ValueError("callback_of is given exactly for a call of type callback")
        if self.outcome == "request_created" and self.request_id is None:
            raise ValueError("outcome request_created names the request (request_id)")
        if self.type == "proactive" and self.elder_id is None:
            raise ValueError("a proactive-care call is made to an elder (elder_id)")
        if self.outcome == "complaint_opened":
            raise ValueError("complaint_opened is recorded by POST /complaints with a call")
        return self


class CallPublic(BaseModel):
    id: int
    type: str
    outcome: str
    elder_id: int | None
    phone: str | None = Field(description="Masked (138****5678)")
    area_code: str | None
    request_id: int | None
    callback_of: int | None
    note: str | None
    at: datetime
    created_by: str
    created_at: datetime
    called_back: bool = Field(
        default=False,
        description="A needs_callback or no_answer call that a later callback reached (false for other calls)",
    )


class CallFigures(BaseModel):
    """The month's 12349 calls in the area (by the elder's area; calls from unknown numbers only in the
    every-area report)."""

    total: int
    by_type: dict[str, int] = Field(description=f"Every type ({', '.join(CALL_TYPES)}), 0 included")
    callbacks_pending: int = Field(description="Calls of the month still needing a call back")
    complaints_opened: int
    complaints_resolved: int
