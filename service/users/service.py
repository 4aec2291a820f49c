"""Accounts, passwords (Argon2id, argon2-cffi), sessions and the failed-login throttle.

Every login, refused login and logout is an audit event (`user.login`, `user.login_failed`, `user.logout`),
as are account changes. A session's cookie value is random and shown only to the browser; the database keeps
its SHA-256. A session ends at logout, after `console_idle_min` without a request, and `console_absolute_h`
after it began.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.audit.service import record_change
from service.db import utcnow
from service.errors import Conflict, Invalid, NotFound
from service.settings import Settings
from service.tokens.service import Principal
from service.users.models import CONSOLE_ROLES, ConsoleSession, LoginThrottle, UserAccount

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters (RFC 9106, low memory)
# Verified when the account does not exist, so that a wrong user name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_of(user: UserAccount) -> Principal:
    """The console user as the API's services know a caller. Its `token_id` is the user's id negated: the
    Idempotency-Keys of a console user are its own, never those of a token with the same number."""
    return Principal(token_id=-(user.id or 0), name=user.username, role=user.role, area_code=user.area_code)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid.field("password", f"密码至少 {MIN_PASSWORD} 位")
    if len(password) > 200:
        raise Invalid.field("password", "密码最长 200 位")


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    area_code: str | None = None,
    centre: str | None = None,
    actor: str,
) -> UserAccount:
    """Checks every field first (422 naming it, nothing written), then the name's uniqueness (409)."""
    username = username.strip()
    if not username or len(username) > 50 or not username.isprintable() or " " in username:
        raise Invalid.field("username", "用户名须为 1–50 个字符，不含空格")
    if role not in CONSOLE_ROLES:
        raise Invalid.field("role", "角色须为 admin、operator 或 regulator")
    check_password(password)
    if role == "regulator":
        if not area_code:
            raise Invalid.field("area_code", "监管人员须指定辖区")
        if await session.get(Area, area_code) is None:
            raise Invalid.field("area_code", f"没有区划代码 {area_code}")
    elif area_code:
        raise Invalid.field("area_code", "只有监管人员绑定辖区")
    centre = (centre or "").strip() or None
    if centre and role != "operator":
        raise Invalid.field("centre", "只有坐席绑定调度中心")
    if centre and len(centre) > 50:
        raise Invalid.field("centre", "最长 50 个字符")
    display_name = (display_name or "").strip() or username
    if len(display_name) > 50:
        raise Invalid.field("display_name", "最长 50 个字符")
    if (await session.exec(select(UserAccount.id).where(UserAccount.username == username))).first() is not None:
        raise Conflict(f"username {username} is taken", errors=[{"field": "username", "reason": "用户名已存在"}])
    user = UserAccount(
        username=username,
        display_name=display_name,
        role=role,
        area_code=area_code,
        centre=centre,
        password_hash=hash_password(password),
    )
    session.add(user)
    await session.flush()
    record_change(
        session,
        actor=actor,
        action="user.create",
        entity="user_account",
        entity_id=user.id,
        after={"username": username, "role": role, "area_code": area_code, "centre": centre},
    )
    return user


async def list_users(session: AsyncSession) -> list[UserAccount]:
    return list((await session.exec(select(UserAccount).order_by(UserAccount.id))).all())


async def get_user(session: AsyncSession, user_id: int) -> UserAccount:
    user = await session.get(UserAccount, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def _end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.exec(
        update(ConsoleSession)
        .where(col(ConsoleSession.user_id) == user_id, col(ConsoleSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )


async def set_disabled(session: AsyncSession, user_id: int, disabled: bool, *, actor: str) -> UserAccount:
    """Disabling ends the user's sessions at once; enabling lets them log in again."""
    user = await get_user(session, user_id)
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        await _end_sessions(session, user_id)
    record_change(
        session,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        entity="user_account",
        entity_id=user_id,
    )
    return user


async def reset_password(session: AsyncSession, user_id: int, password: str, *, actor: str) -> UserAccount:
    """A new password; the user's sessions end and its lock is lifted."""
    check_password(password)
    user = await get_user(session, user_id)
    user.password_hash = hash_password(password)
    await _end_sessions(session, user_id)
    throttle = await session.get(LoginThrottle, f"user:{user.username}")
    if throttle is not None:
        await session.delete(throttle)
    record_change(session, actor=actor, action="user.reset_password", entity="user_account", entity_id=user_id)
    return user


# Logging in --------------------------------------------------------------------------------------------------


class LoginRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _locked(session: AsyncSession, key: str, now: datetime) -> bool:
    row = await session.get(LoginThrottle, key)
    return row is not None and row.locked_until is not None and row.locked_until > now


async def _count_failure(session: AsyncSession, key: str, limit: int, settings: Settings, now: datetime) -> None:
    row = await session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0)
        session.add(row)
    if row.locked_until is not None and row.locked_until <= now:
        row.failures = 0  # an expired lock: count afresh
        row.locked_until = None
    row.failures += 1
    row.updated_at = now
    if row.failures >= limit:
        row.locked_until = now + timedelta(minutes=settings.login_lock_min)


@dataclass
class NewSession:
    user: UserAccount
    cookie: str
    csrf: str


async def log_in(session: AsyncSession, username: str, password: str, address: str, settings: Settings) -> NewSession:
    """A new session for a right password of an enabled account that is not locked, from an address that is
    not locked; otherwise LoginRefused with words for the login page. Both outcomes are audited."""
    now = utcnow()
    user_key, address_key = f"user:{username[:100]}", f"addr:{address[:100]}"
    user = (await session.exec(select(UserAccount).where(UserAccount.username == username))).first()
    if await _locked(session, user_key, now) or await _locked(session, address_key, now):
        record_change(
            session,
            actor=f"console:{username[:50]}",
            action="user.login_failed",
            entity="user_account",
            entity_id=user.id if user else "-",
            after={"reason": "locked", "address": address},
        )
        raise LoginRefused(f"失败次数过多，账号或地址已锁定 {settings.login_lock_min:g} 分钟，请稍后再试或联系管理员")
    good = password_matches(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    if not good or user.disabled_at is not None:
        reason = "disabled" if good else "bad_password"
        await _count_failure(session, user_key, settings.login_max_failures, settings, now)
        await _count_failure(
            session, address_key, settings.login_max_failures * settings.login_address_factor, settings, now
        )
        record_change(
            session,
            actor=f"console:{username[:50]}",
            action="user.login_failed",
            entity="user_account",
            entity_id=user.id if user else "-",
            after={"reason": reason, "address": address},
        )
        raise LoginRefused("账号已停用" if reason == "disabled" else "用户名或密码错误")
    throttle = await session.get(LoginThrottle, user_key)
    if throttle is not None:
        await session.delete(throttle)
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(token_hash=_digest(cookie), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now)
    )
    record_change(
        session,
        actor=f"{user.role}:{user.username}",
        action="user.login",
        entity="user_account",
        entity_id=user.id,
        after={"address": address},
    )
    return NewSession(user, cookie, csrf)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass(frozen=True)
class Current:
    """A live console session and its user."""

    session_id: int
    csrf: str
    user: UserAccount

    @property
    def principal(self) -> Principal:
        return principal_of(self.user)


async def current(session: AsyncSession, cookie: str, settings: Settings) -> Current | None:
    """The session the cookie names, if it is live (not ended, idle or too old, its user enabled); its
    last_seen_at moves on (at most once a minute, so a polling board does not write every second)."""
    now = utcnow()
    found = (
        await session.exec(
            select(ConsoleSession, UserAccount)
            .join(UserAccount, col(UserAccount.id) == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == _digest(cookie))
        )
    ).first()
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None or user.disabled_at is not None:
        return None
    if now - row.last_seen_at > timedelta(minutes=settings.console_idle_min) or now - row.created_at > timedelta(
        hours=settings.console_absolute_h
    ):
        row.ended_at = now
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return Current(row.id, row.csrf_token, user)


async def log_out(session: AsyncSession, live: Current) -> None:
    await session.exec(
        update(ConsoleSession).where(col(ConsoleSession.id) == live.session_id).values(ended_at=utcnow())
    )
    record_change(
        session,
        actor=f"{live.user.role}:{live.user.username}",
        action="user.logout",
        entity="user_account",
        entity_id=live.user.id,
    )
