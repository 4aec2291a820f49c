"""Bearer tokens: created once (CLI), stored only as a SHA-256, looked up on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.audit.service import record_change
from service.catalogue import ROLES
from service.errors import Invalid, NotFound
from service.providers.models import Provider
from service.tokens.models import ApiToken

TOKEN_PREFIX = "hc_"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's role and what it is bound to."""

    token_id: int
    name: str
    role: str
    provider_id: int | None = None
    area_code: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    session: AsyncSession, *, role: str, name: str, provider_id: int | None = None,
    area_code: str | None = None, actor: str = "cli",
) -> str:
    """Store a new token's hash and return the token itself (shown once)."""
    if role not in ROLES:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}")
    if (role == "provider") != (provider_id is not None):
        raise Invalid.field("provider", "a provider token needs --provider, and only a provider token takes it")
    if (role == "regulator") != (area_code is not None):
        raise Invalid.field("area", "a regulator token needs --area, and only a regulator token takes it")
    if provider_id is not None and await session.get(Provider, provider_id) is None:
        raise NotFound(f"provider {provider_id} does not exist")
    if area_code is not None and await session.get(Area, area_code) is None:
        raise NotFound(f"area {area_code} does not exist")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, provider_id=provider_id, area_code=area_code, token_hash=hash_token(token))
    session.add(row)
    await session.flush()
    record_change(session, actor=actor, action="token.create", entity="api_token", entity_id=row.id,
                  after={"name": name, "role": role, "provider_id": provider_id, "area_code": area_code})
    await session.commit()
    return token


async def principal_for(session: AsyncSession, token: str) -> Principal | None:
    row = (await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, row.role, row.provider_id, row.area_code)
