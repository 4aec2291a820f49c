"""The service catalogue: items of the helps, in versions, and the version in force on a day.

Admins add items and new versions of them (`effective_from`); nothing is ever changed in place, so the
rules a visit was verified by stay readable. A version may not start in or before a closed month."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change, snapshot
from service.catalogue import DEFAULT_ITEMS, ItemPlace, ItemUnit, ServiceCode
from service.db import flush_or_conflict
from service.errors import Conflict, Invalid
from service.items.models import CatalogueItem
from service.months import first_day, next_month
from service.reports.models import MonthClose
from service.tokens.service import Principal
from service.validation import Body, Day, Text, distinct

ItemCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="An item of the catalogue")]


class ItemCreate(Body):
    code: ItemCode
    help: ServiceCode = Field(description="The help it belongs to (fixed for all versions of the item)")
    name: Text = Field(min_length=1, max_length=100)
    unit: ItemUnit
    min_minutes: int | None = Field(
        default=None, ge=1, le=480, description="Shortest visit that counts; none: no minimum (a meal handed over)"
    )
    place: ItemPlace
    counts_toward_entitlement: bool
    tasks: Annotated[list[ServiceCode], AfterValidator(distinct)] = Field(min_length=1, max_length=8)
    effective_from: Day = Field(description="First day (Asia/Shanghai) the version applies to visits")


class ItemPublic(BaseModel):
    id: int
    code: str
    help: str
    name: str
    unit: str
    min_minutes: int | None
    place: str
    counts_toward_entitlement: bool
    tasks: list[str]
    effective_from: date
    is_default: bool = Field(description="The item a request of its help carries when it names none")
    created_by: str
    created_at: datetime


def public(row: CatalogueItem) -> ItemPublic:
    return ItemPublic(**row.model_dump(), is_default=DEFAULT_ITEMS.get(row.help) == row.code)


async def list_items(session: AsyncSession, on: date | None) -> list[ItemPublic]:
    """Every version by code then date; with `on`, only the version of each item in force that day."""
    rows = (await session.exec(select(CatalogueItem).order_by(CatalogueItem.code, CatalogueItem.effective_from))).all()
    if on is not None:
        in_force: dict[str, CatalogueItem] = {}
        for row in rows:
            if row.effective_from <= on:
                in_force[row.code] = row
        rows = list(in_force.values())
    return [public(row) for row in rows]


async def item_in_force(session: AsyncSession, code: str, day: date) -> CatalogueItem:
    """The version of the item in force on the day (its first version if the day precedes them all).

    Requests carry only items that exist (checked at creation) and items are never deleted."""
    versions = select(CatalogueItem).where(CatalogueItem.code == code)
    row = (
        await session.exec(
            versions.where(col(CatalogueItem.effective_from) <= day)
            .order_by(col(CatalogueItem.effective_from).desc())
            .limit(1)
        )
    ).first()
    if row is None:
        row = (await session.exec(versions.order_by(CatalogueItem.effective_from).limit(1))).one()
    return row


async def help_of(session: AsyncSession, code: str) -> str | None:
    return (await session.exec(select(CatalogueItem.help).where(CatalogueItem.code == code).limit(1))).first()


def refuse_item(code: str, found_help: str | None, help_code: str, *, field: str = "item") -> None:
    """422 naming the field unless the item exists (`found_help` is its help, None if none) in the help."""
    if found_help is None:
        raise Invalid.field(field, f"no item {code!r} in the service catalogue")
    if found_help != help_code:
        raise Invalid.field(field, f"item {code!r} belongs to the help {found_help!r}, not {help_code!r}")


async def require_item(session: AsyncSession, code: str, help_code: str, *, field: str = "item") -> None:
    refuse_item(code, await help_of(session, code), help_code, field=field)


async def add_item(session: AsyncSession, data: ItemCreate, principal: Principal) -> ItemPublic:
    """A new item, or a new version of one (same code, a later or earlier `effective_from`)."""
    existing = await help_of(session, data.code)
    if existing is not None and existing != data.help:
        raise Invalid.field("help", f"item {data.code!r} belongs to the help {existing!r}; the help never changes")
    last_closed = (await session.exec(select(func.max(MonthClose.month)))).one()
    if last_closed is not None and data.effective_from < first_day(next_month(last_closed)):
        raise Conflict(
            f"effective_from {data.effective_from.isoformat()} lies in or before {last_closed}, a month "
            "already closed and signed"
        )
    clash = (
        await session.exec(
            select(CatalogueItem.id).where(
                CatalogueItem.code == data.code, CatalogueItem.effective_from == data.effective_from
            )
        )
    ).first()
    if clash is not None:
        raise Conflict(f"item {data.code!r} already has a version from {data.effective_from.isoformat()}")
    row = CatalogueItem(**data.model_dump(), created_by=principal.actor)
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=principal.actor,
        action="catalogue_item.create",
        entity="catalogue_item",
        entity_id=row.id,
        after=snapshot(row),
    )
    await flush_or_conflict(session, "the item clashes with another version")
    return public(row)
