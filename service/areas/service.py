from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.errors import Invalid


async def require_area(session: AsyncSession, code: str, *, field: str, level: str | None = None) -> Area:
    """The area named by a client, or a 422 naming the field."""
    area = await session.get(Area, code)
    if area is None:
        raise Invalid.field(field, f"area {code} does not exist")
    if level is not None and area.level != level:
        raise Invalid.field(field, f"area {code} is a {area.level}; a {level} code (12 digits) is needed")
    return area


async def list_areas(
    session: AsyncSession, *, parent: str | None, prefix: str | None, level: str | None, after: str | None, limit: int
) -> list[Area]:
    query = select(Area).order_by(Area.code).limit(limit + 1)
    if parent is not None:
        query = query.where(Area.parent_code == parent)
    if prefix is not None:
        query = query.where(Area.code.startswith(prefix))
    if level is not None:
        query = query.where(Area.level == level)
    if after is not None:
        query = query.where(Area.code > after)
    return list((await session.exec(query)).all())
