from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow

CONSOLE_ROLES = ("admin", "operator", "regulator")


class UserAccount(SQLModel, table=True):
    """A person who logs in to the console. A regulator sees its area and below; an operator may be bound
    to a dispatch centre (a label shown on the seat, e.g. 六甲调度中心)."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator', 'regulator')", name="user_role"),
        CheckConstraint("(role = 'regulator') = (area_code IS NOT NULL)", name="user_area_binding"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=50, unique=True)
    display_name: str = Field(max_length=50)
    role: str = Field(max_length=10)
    area_code: str | None = Field(default=None, foreign_key="area.code", max_length=12)
    centre: str | None = Field(default=None, max_length=50)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsoleSession(SQLModel, table=True):
    """A logged-in browser: only the SHA-256 of the cookie's value is stored, with the session's CSRF token."""

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed logins counted per account (`user:<name>`) and per address (`addr:<ip>`); a key with too many
    failures in a row is locked until `locked_until`. A successful login clears its account's key."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
