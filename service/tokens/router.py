"""Who am I (any token), and the admin's token register: list, create (the value shown once), revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from service.auth import Admin, AnyRole
from service.catalogue import Role
from service.deps import SessionDep
from service.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor
from service.schemas import Page
from service.tokens import service
from service.tokens.models import ApiToken
from service.validation import AreaCode, Body, DbId, IdPath, Text

router = APIRouter(prefix="/api/v1", tags=["tokens"])
NOT_FOUND = {404: {"description": "No such token"}}
INVALID = {422: {"description": "A field is invalid (named in `errors`)"}}


class Me(BaseModel):
    token_id: int
    name: str
    role: Role
    provider_id: int | None = Field(description="The provider a provider token acts for")
    area_code: str | None = Field(description="The area a regulator token sees, or an area-bound operator's seat")
    gateway_id: int | None = Field(default=None, description="The device gateway a gateway token speaks for")


class TokenPublic(BaseModel):
    """A token as listed: what it is for and when it was used; never its value."""

    id: int
    name: str
    role: Role
    provider_id: int | None
    area_code: str | None
    gateway_id: int | None = None
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute; stamped when an API process looks it up")
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token itself, shown this once: only its hash is stored")


class TokenCreate(Body):
    name: Text = Field(min_length=1, max_length=100, description="Who holds it (shown in the audit log)")
    role: Role
    provider_id: DbId | None = Field(default=None, description="Role provider only")
    area_code: AreaCode | None = Field(
        default=None, description="Role regulator (required) or operator (optional: a street's or district's seat)"
    )
    gateway_id: DbId | None = Field(default=None, description="Role gateway only")


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(row, from_attributes=True)


@router.get("/me", response_model=Me, summary="The token's own identity: role and what it is bound to")
async def me(principal: AnyRole) -> Me:
    return Me(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        provider_id=principal.provider_id,
        area_code=principal.area_code,
        gateway_id=principal.gateway_id,
    )


@router.get("/tokens", response_model=Page[TokenPublic], responses=INVALID)
async def list_tokens(
    session: SessionDep,
    _: Admin,
    revoked: Annotated[bool | None, Query(description="Only revoked (true) or only live (false) tokens")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TokenPublic]:
    position = decode_cursor(cursor, "after")
    rows = await service.list_tokens(
        session, after=position["after"] if position else None, limit=limit, revoked=revoked
    )
    return Page(items=[_public(row) for row in rows[:limit]], next_cursor=next_cursor(rows, limit))


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses={**INVALID, 404: {"description": "No such provider, area or gateway"}},
)
async def create_token(body: TokenCreate, session: SessionDep, principal: Admin) -> TokenCreated:
    # No Idempotency-Key: a replay would have to store the answer, and with it the token's value.
    row, token = await service.issue_token(
        session,
        role=body.role,
        name=body.name,
        provider_id=body.provider_id,
        area_code=body.area_code,
        actor=principal.actor,
        gateway_id=body.gateway_id,
    )
    return TokenCreated(**_public(row).model_dump(), token=token)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic, responses={**NOT_FOUND, **INVALID})
async def revoke_token(token_id: IdPath, request: Request, session: SessionDep, principal: Admin) -> TokenPublic:
    """Revoked at once in this API process; other processes stop accepting it within HOMECARE_TOKEN_CACHE_S."""
    row = await service.revoke_token(session, token_id, actor=principal.actor)
    request.app.state.principals.forget(token_id)
    return _public(row)
