from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from service.catalogue import ROLES, sql_in
from service.db import UTCDateTime, utcnow

AREA_BINDING = (
    "(role = 'regulator' AND area_code IS NOT NULL) OR role = 'operator' "
    "OR (role NOT IN ('regulator', 'operator') AND area_code IS NULL)"
)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once at creation."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint(sql_in("role", ROLES), name="token_role"),
        CheckConstraint("(role = 'provider') = (provider_id IS NOT NULL)", name="token_provider_binding"),
        # A regulator sees an area; an operator may be a street's or a district's seat (an area) or the
        # city's 12349 (none); no other role takes one.
        CheckConstraint(AREA_BINDING, name="token_area_binding"),
        CheckConstraint("(role = 'gateway') = (gateway_id IS NOT NULL)", name="token_gateway_binding"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=10)
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    area_code: str | None = Field(default=None, foreign_key="area.code", max_length=12)
    gateway_id: int | None = Field(default=None, foreign_key="device_gateway.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # To the minute or so (service/tokens/service.py, LAST_USED_STEP): stamped when an API process looks
    # the token up, which its cache makes rare, never on every request.
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
