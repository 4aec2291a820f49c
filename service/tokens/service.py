"""Bearer tokens: created (CLI or admin API), listed and revoked; stored only as a SHA-256.

A token's value is shown once, when it is created, and never again: lists show what it is for, when it
was made and last used, and whether it is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.audit.service import record_change
from service.catalogue import ROLES
from service.db import utcnow
from service.devices.models import DeviceGateway
from service.errors import Invalid, NotFound
from service.providers.models import Provider
from service.tokens.models import ApiToken

TOKEN_PREFIX = "hc_"
# last_used_at is written when an API process looks a token up (its cache makes that rare) and only when
# the stored value is older than this: a busy token costs no write per lookup.
LAST_USED_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's role and what it is bound to."""

    token_id: int
    name: str
    role: str
    provider_id: int | None = None
    area_code: str | None = None
    gateway_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    session: AsyncSession,
    *,
    role: str,
    name: str,
    provider_id: int | None = None,
    area_code: str | None = None,
    actor: str = "cli",
    gateway_id: int | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token's hash; returns the stored row and the token itself (shown once)."""
    await check_binding(session, role=role, provider_id=provider_id, area_code=area_code, gateway_id=gateway_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role,
        provider_id=provider_id,
        area_code=area_code,
        gateway_id=gateway_id,
        token_hash=hash_token(token),
    )
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=actor,
        action="token.create",
        entity="api_token",
        entity_id=row.id,
        after={
            "name": name,
            "role": role,
            "provider_id": provider_id,
            "area_code": area_code,
            "gateway_id": gateway_id,
        },
    )
    return row, token


async def check_binding(
    session: AsyncSession, *, role: str, provider_id: int | None, area_code: str | None, gateway_id: int | None = None
) -> None:
    """A provider token acts for an existing provider, a regulator token sees an existing area, an operator
    token may be bound to an area (a street's or district's seat), a gateway token speaks for an existing
    device gateway; no other binds."""
    if role not in ROLES:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}")
    if (role == "provider") != (provider_id is not None):
        raise Invalid.field("provider_id", "a provider token needs a provider, and only a provider token takes one")
    if role == "regulator" and area_code is None or role not in ("regulator", "operator") and area_code is not None:
        raise Invalid.field("area_code", "a regulator token needs an area; only regulator and operator tokens take one")
    if (role == "gateway") != (gateway_id is not None):
        raise Invalid.field("gateway_id", "a gateway token needs a gateway, and only a gateway token takes one")
    if provider_id is not None and await session.get(Provider, provider_id) is None:
        raise NotFound(f"provider {provider_id} does not exist")
    if gateway_id is not None and await session.get(DeviceGateway, gateway_id) is None:
        raise NotFound(f"gateway {gateway_id} does not exist")
    if area_code is not None and await session.get(Area, area_code) is None:
        raise NotFound(f"area {area_code} does not exist")


async def create_token(
    session: AsyncSession,
    *,
    role: str,
    name: str,
    provider_id: int | None = None,
    area_code: str | None = None,
    actor: str = "cli",
    gateway_id: int | None = None,
) -> str:
    """`issue_token`, for callers that want only the token (the CLI, tests, benchmarks)."""
    _, token = await issue_token(
        session, role=role, name=name, provider_id=provider_id, area_code=area_code, actor=actor, gateway_id=gateway_id
    )
    return token


async def list_tokens(
    session: AsyncSession, *, after: int | None, limit: int, revoked: bool | None = None
) -> Sequence[ApiToken]:
    """A page of tokens by id (limit + 1 rows, for `next_cursor`); `revoked` filters when given."""
    query = select(ApiToken).order_by(ApiToken.id).limit(limit + 1)
    if after is not None:
        query = query.where(col(ApiToken.id) > after)
    if revoked is not None:
        query = query.where(col(ApiToken.revoked_at).is_not(None) if revoked else col(ApiToken.revoked_at).is_(None))
    return (await session.exec(query)).all()


async def revoke_token(session: AsyncSession, token_id: int, *, actor: str) -> ApiToken:
    """Revoke a token (again is harmless: the first revocation's time stays). Other API processes stop
    accepting it once their cache's entry for it runs out (HOMECARE_TOKEN_CACHE_S)."""
    now = utcnow()
    revoked = (
        await session.exec(
            update(ApiToken)
            .where(ApiToken.id == token_id, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=now)
            .returning(ApiToken.id)
        )
    ).first()
    if revoked is not None:
        record_change(
            session,
            actor=actor,
            action="token.revoke",
            entity="api_token",
            entity_id=token_id,
            after={"revoked_at": now},
        )
    row = await session.get(ApiToken, token_id, populate_existing=True)
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    return row


async def revoke_named(session: AsyncSession, names: Sequence[str], *, actor: str) -> list[int]:
    """Revoke every live token with one of these names (the demo tokens of an earlier `make run`)."""
    ids = (
        await session.exec(select(ApiToken.id).where(col(ApiToken.name).in_(names), col(ApiToken.revoked_at).is_(None)))
    ).all()
    for token_id in ids:
        await revoke_token(session, token_id, actor=actor)
    return list(ids)


async def principals_for(
    session: AsyncSession, token_hashes: Sequence[str], now: datetime | None = None
) -> dict[str, Principal]:
    """The live (unrevoked) tokens among these hashes, in one query; stamps their last use."""
    now = now or utcnow()
    rows = (
        await session.exec(
            select(ApiToken).where(col(ApiToken.token_hash).in_(token_hashes), col(ApiToken.revoked_at).is_(None))
        )
    ).all()
    stale = [row.id for row in rows if row.last_used_at is None or row.last_used_at < now - LAST_USED_STEP]
    if stale:
        # Conditional, so that API processes stamping at once write each row once.
        await session.exec(
            update(ApiToken)
            .where(
                col(ApiToken.id).in_(stale),
                or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < now - LAST_USED_STEP),
            )
            .values(last_used_at=now)
        )
    return {
        row.token_hash: Principal(row.id, row.name, row.role, row.provider_id, row.area_code, row.gateway_id)
        for row in rows
    }
