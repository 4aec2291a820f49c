"""The provider registry: contracts (areas, services, quota, window) and stations, audited."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, literal, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.extent import CHINA, refuse_outside
from service.areas.service import require_area
from service.audit.service import record_change
from service.db import flush_or_conflict, utcnow
from service.errors import Conflict, Invalid, NotFound
from service.providers.models import Provider, ProviderArea, Station
from service.providers.schemas import ProviderCreate, ProviderPublic, ProviderUpdate, StationIn, StationOut
from service.schemas import StoredLocation
from service.tokens.service import Principal


def _public(provider: Provider, stations: list[Station], areas: list[str]) -> ProviderPublic:
    return ProviderPublic(
        **provider.model_dump(),
        stations=[StationOut(name=s.name, location=StoredLocation(lat=s.lat, lon=s.lon)) for s in stations],
        areas=sorted(areas),
    )


async def public_many(session: AsyncSession, providers: list[Provider]) -> list[ProviderPublic]:
    ids = [p.id for p in providers]
    stations: dict[int, list[Station]] = defaultdict(list)
    areas: dict[int, list[str]] = defaultdict(list)
    if ids:
        for s in (await session.exec(select(Station).where(Station.provider_id.in_(ids)).order_by(Station.id))).all():
            stations[s.provider_id].append(s)
        for a in (await session.exec(select(ProviderArea).where(ProviderArea.provider_id.in_(ids)))).all():
            areas[a.provider_id].append(a.area_code)
    return [_public(p, stations[p.id], areas[p.id]) for p in providers]


async def public_one(session: AsyncSession, provider: Provider) -> ProviderPublic:
    return (await public_many(session, [provider]))[0]


async def get_provider(session: AsyncSession, provider_id: int) -> Provider:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id} does not exist")
    return provider


async def _check_areas(session: AsyncSession, codes: list[str]) -> None:
    for i, code in enumerate(codes):
        await require_area(session, code, field=f"areas.{i}")


def _station_rows(provider_id: int, stations: list[StationIn]) -> list[Station]:
    rows = []
    for i, s in enumerate(stations):
        lat, lon = s.location.wgs84()
        # Only China's extent: a station may well stand across its contracted district's border, and
        # the dispatcher's distance rule keeps far ones from being sent.
        refuse_outside(CHINA, lat, lon, f"stations.{i}.location")
        rows.append(Station(provider_id=provider_id, name=s.name, lat=lat, lon=lon))
    return rows


async def _refuse_name_clash(session: AsyncSession, name: str, own_id: int | None = None) -> None:
    clash = (await session.exec(select(Provider.id).where(Provider.name == name))).first()
    if clash is not None and clash != own_id:
        raise Conflict(f"another provider (id {clash}) already has this name")


async def create_provider(session: AsyncSession, data: ProviderCreate, principal: Principal) -> ProviderPublic:
    await _check_areas(session, data.areas)
    await _refuse_name_clash(session, data.name)
    provider = Provider(**data.model_dump(exclude={"stations", "areas"}))
    session.add(provider)
    await session.flush()
    session.add_all(_station_rows(provider.id, data.stations))
    session.add_all(ProviderArea(provider_id=provider.id, area_code=code) for code in data.areas)
    await session.flush()
    public = await public_one(session, provider)
    record_change(
        session,
        actor=principal.actor,
        action="provider.create",
        entity="provider",
        entity_id=provider.id,
        after=public.model_dump(mode="json"),
    )
    await flush_or_conflict(session, "another provider already has this name")  # committed with its key
    return public


async def update_provider(
    session: AsyncSession,
    provider_id: int,
    data: ProviderUpdate,
    principal: Principal,
) -> ProviderPublic:
    provider = await get_provider(session, provider_id)
    before = (await public_one(session, provider)).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True, exclude={"stations", "areas"})
    start = changes.get("contract_start", provider.contract_start)
    end = changes.get("contract_end", provider.contract_end)
    if end < start:
        raise Invalid.field("contract_end", "must not be before contract_start")
    if data.name is not None:
        await _refuse_name_clash(session, data.name, own_id=provider.id)
    if data.areas is not None:
        await _check_areas(session, data.areas)
        await session.exec(delete(ProviderArea).where(ProviderArea.provider_id == provider.id))
        session.add_all(ProviderArea(provider_id=provider.id, area_code=code) for code in data.areas)
    if data.stations is not None:
        await session.exec(delete(Station).where(Station.provider_id == provider.id))
        session.add_all(_station_rows(provider.id, data.stations))
    for field, value in changes.items():
        setattr(provider, field, value)
    provider.updated_at = utcnow()
    await session.flush()
    public = await public_one(session, provider)
    record_change(
        session,
        actor=principal.actor,
        action="provider.update",
        entity="provider",
        entity_id=provider.id,
        before=before,
        after=public.model_dump(mode="json"),
    )
    await flush_or_conflict(session, "another provider already has this name")
    return public


async def list_providers(
    session: AsyncSession, *, area: str | None, status: str | None, after: int | None, limit: int
) -> list[Provider]:
    query = select(Provider).order_by(Provider.id).limit(limit + 1)
    if area:
        # Contracted for this area: one of its codes is a prefix of the asked one, or lies below it.
        code = ProviderArea.area_code
        covering = select(ProviderArea.provider_id).where(
            or_(code.startswith(area), func.substr(literal(area), 1, func.length(code)) == code)
        )
        query = query.where(Provider.id.in_(covering))
    if status:
        query = query.where(Provider.status == status)
    if after is not None:
        query = query.where(Provider.id > after)
    return list((await session.exec(query)).all())
