from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.areas import service
from service.auth import AnyRole
from service.catalogue import SERVICES
from service.deps import SessionDep
from service.errors import Invalid
from service.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from service.schemas import Page
from service.validation import AREA_PATTERN, AreaCode

router = APIRouter(prefix="/api/v1", tags=["registry"])
AreaCodeQuery = Annotated[AreaCode | None, Query()]


class AreaPublic(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class ServicePublic(BaseModel):
    code: str
    name_zh: str


@router.get("/areas", response_model=Page[AreaPublic], responses={422: {"description": "Bad filter"}})
async def list_areas(
    session: SessionDep,
    _: AnyRole,
    parent: AreaCodeQuery = None,
    prefix: AreaCodeQuery = None,
    level: Annotated[str | None, Query(pattern="^(city|county|street|community)$")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AreaPublic]:
    after = None  # area cursors carry a code, not an id
    if cursor is not None:
        position = decode_cursor(cursor)
        after = position.get("code") if position else None
        if not isinstance(after, str) or not re.fullmatch(AREA_PATTERN, after):
            raise Invalid.field("cursor", "is not a cursor this service issued")
    rows = await service.list_areas(session, parent=parent, prefix=prefix, level=level, after=after, limit=limit)
    next_cursor = encode_cursor({"code": rows[limit - 1].code}) if len(rows) > limit else None
    return Page(items=[AreaPublic(**a.model_dump()) for a in rows[:limit]], next_cursor=next_cursor)


@router.get("/services", response_model=list[ServicePublic])
async def list_services(_: AnyRole) -> list[ServicePublic]:
    return [ServicePublic(code=code, name_zh=name) for code, name in SERVICES.items()]
