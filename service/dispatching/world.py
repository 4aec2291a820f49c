"""The providers the engine may use, loaded from the registry in the engine's terms."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.catalogue import SERVICES
from service.months import first_day, month_of_day, next_month
from service.providers.models import Provider, ProviderArea, Station

log = logging.getLogger("homecare.dispatch")


@dataclass(frozen=True)
class ContractedProvider:
    id: int
    quota: int
    services: list[str]
    areas: list[str]
    stations: list[tuple[float, float]]
    contract_start: date
    contract_end: date


async def registry_version(session: AsyncSession) -> tuple:
    """Changes whenever a provider is added or changed (its stations, areas, status, quota, contract):
    every such change stamps the provider's updated_at."""
    return tuple(
        (
            await session.exec(
                select(func.count(), func.max(Provider.id), func.max(Provider.updated_at)).select_from(Provider)
            )
        ).one()
    )


async def eligible_providers(session: AsyncSession, month_start: date) -> list[ContractedProvider]:
    """Active providers under contract for at least part of the month that starts on `month_start`; one
    whose services are not a list of service codes is left out (and logged) rather than fail every dispatch."""
    month_end = first_day(next_month(month_of_day(month_start)))
    providers = (
        await session.exec(
            select(Provider)
            .where(
                Provider.status == "active",
                col(Provider.contract_start) < month_end,
                col(Provider.contract_end) >= month_start,
            )
            .order_by(Provider.id)
        )
    ).all()
    ids = [p.id for p in providers]
    stations: dict[int, list] = defaultdict(list)
    areas: dict[int, list] = defaultdict(list)
    for s in (await session.exec(select(Station).where(col(Station.provider_id).in_(ids)))).all():
        stations[s.provider_id].append((s.lat, s.lon))
    for a in (await session.exec(select(ProviderArea).where(col(ProviderArea.provider_id).in_(ids)))).all():
        areas[a.provider_id].append(a.area_code)
    usable = []
    for p in providers:
        if not (isinstance(p.services, list) and all(isinstance(s, str) and s in SERVICES for s in p.services)):
            log.error("provider %s left out of dispatch: its services are not a list of service codes", p.id)
        elif stations[p.id]:
            usable.append(
                ContractedProvider(
                    p.id,
                    p.monthly_quota,
                    list(p.services),
                    areas[p.id],
                    stations[p.id],
                    p.contract_start,
                    p.contract_end,
                )
            )
    return usable


def provider_dicts(providers: list[ContractedProvider], used: dict[int, int]) -> list[dict]:
    """docs/dispatch.md's provider records, with the quota that is still free this month."""
    return [
        {
            "id": str(p.id),
            "quota": max(0, p.quota - used.get(p.id, 0)),
            "services": p.services,
            "areas": p.areas,
            "stations": [{"lat": lat, "lon": lon} for lat, lon in p.stations],
        }
        for p in providers
    ]
