"""Loading a generated world into the database: idempotent, validated, and in bulk.

Every record passes the same pydantic models the API validates with (ElderCreate, ProviderCreate),
then goes in by multi-row INSERT ... ON CONFLICT DO NOTHING on its natural key (area code, provider
name, resident ID number), so loading twice changes nothing and a half-finished load can simply be
run again. `reset` empties the tables first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from seed.model import World
from seed.programme import ASSESSOR, REVIEW_AFTER, SURVEY_DAY, SURVEY_SOURCE, policy
from service.areas.models import Area
from service.audit.service import record_change
from service.catalogue import seeded_items
from service.db import utcnow
from service.elders.models import AbilityAssessment, Elder, ElderCategory
from service.elders.schemas import ElderCreate
from service.entitlements.models import EntitlementPolicy
from service.entitlements.service import PolicyCreate, stored_rule
from service.items.models import CatalogueItem
from service.models import metadata
from service.providers.models import Caregiver, Provider, ProviderArea, Station
from service.providers.schemas import ProviderCreate

CHUNK = 20_000  # rows handed to the driver at a time, to bound memory
_ELDERS = TypeAdapter(list[ElderCreate])


@dataclass(frozen=True)
class LoadReport:
    areas: int
    providers: int
    elders: int
    seconds: float
    elders_added: int = 0  # not there before this load


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def _insert_new(session: AsyncSession, table, rows: list[dict], key: str) -> None:
    # One statement, many parameter sets: SQLAlchemy batches them into multi-row INSERTs within each
    # driver's parameter limit (asyncpg takes at most 32,767), compiling the statement only once.
    statement = _insert(session)(table).on_conflict_do_nothing(index_elements=[key])
    for start in range(0, len(rows), CHUNK):
        await session.exec(statement, params=rows[start : start + CHUNK])


async def reset(session: AsyncSession) -> None:
    for table in reversed(metadata.sorted_tables):
        await session.exec(delete(table))
    session.add_all(CatalogueItem(**row) for row in seeded_items())  # the catalogue as migrated
    await session.commit()


async def _load_providers(session: AsyncSession, world: World) -> dict[int, int]:
    """World provider index -> database id, creating the providers not there yet."""
    now = utcnow()
    existing = dict((await session.exec(select(Provider.name, Provider.id))).all())
    for p in world.providers:
        if p.name in existing:
            continue
        valid = ProviderCreate(
            name=p.name,
            areas=list(p.areas),
            services=list(p.services),
            monthly_quota=p.monthly_quota,
            contract_start=p.contract_start,
            contract_end=p.contract_end,
            stations=[{"name": s.name, "location": {"lat": s.lat, "lon": s.lon}} for s in p.stations],
        )
        row = Provider(**valid.model_dump(exclude={"stations", "areas"}), created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        existing[p.name] = row.id
        session.add_all(
            Station(provider_id=row.id, name=s.name, lat=s.location.lat, lon=s.location.lon) for s in valid.stations
        )
        session.add_all(ProviderArea(provider_id=row.id, area_code=code) for code in valid.areas)
        session.add_all(
            Caregiver(provider_id=row.id, name=f"{p.name[:20]}护理员{i + 1:03d}") for i in range(p.caregivers)
        )
    await session.flush()
    return {i: existing[p.name] for i, p in enumerate(world.providers)}


def _elder_rows(world: World, provider_ids: dict[int, int]) -> list[dict]:
    records = [
        {
            "name": e.name,
            "id_number": e.id_number,
            "phone": e.phone,
            "address": e.address,
            "location": {"lat": e.lat, "lon": e.lon},
            "area_code": e.area_code,
            "visits_per_month": e.visits_per_month,
            "min_minutes": e.min_minutes,
            "services": list(e.services),
            "preferred_weekdays": list(e.preferred_weekdays),
            "living_alone": e.living_alone,
            "device_id": e.device_id,
        }
        for e in world.elders
    ]
    valid = _ELDERS.validate_python(records)  # the API's own rules: ID check digit, phone, services …
    now = utcnow()
    return [
        {
            **v.model_dump(exclude={"location"}),
            "lat": v.location.lat,
            "lon": v.location.lon,
            "last_provider_id": provider_ids.get(e.previous_provider) if e.previous_provider is not None else None,
            "created_at": now,
            "updated_at": now,
        }
        for v, e in zip(valid, world.elders, strict=True)
    ]


async def _load_programme(session: AsyncSession, world: World, added: dict[str, int]) -> None:
    """The survey's records of the elders added now (categories, assessments), and the scenario's policy
    unless its area has one already."""
    now, source, assessor = utcnow(), SURVEY_SOURCE[world.scenario], ASSESSOR[world.scenario]
    categories, assessments = [], []
    for e in world.elders:
        elder_id = added.get(e.id_number)
        if elder_id is None:
            continue
        categories += [
            {
                "elder_id": elder_id,
                "category": c,
                "since": SURVEY_DAY,
                "source": source,
                "recorded_by": "seed",
                "recorded_at": now,
            }
            for c in e.categories
        ]
        assessments.append(
            {
                "elder_id": elder_id,
                "level": e.ability_level,
                "assessed_on": e.assessed_on,
                "assessor": assessor,
                "next_review_on": e.assessed_on + REVIEW_AFTER,
                "created_by": "seed",
                "created_at": now,
            }
        )
    for table, rows in ((ElderCategory.__table__, categories), (AbilityAssessment.__table__, assessments)):
        for start in range(0, len(rows), CHUNK):
            await session.exec(table.insert(), params=rows[start : start + CHUNK])
    area = next(a.code for a in world.areas if a.level in ("city", "county"))
    if (await session.exec(select(EntitlementPolicy.id).where(EntitlementPolicy.area_code == area))).first() is None:
        valid = PolicyCreate.model_validate(policy(world.scenario, area))
        session.add(
            EntitlementPolicy(
                area_code=area,
                name=valid.name,
                effective_from=valid.effective_from,
                rules=[stored_rule(r) for r in valid.rules],
                created_by="seed",
            )
        )


async def load_world(sessions: async_sessionmaker, world: World, *, wipe: bool = False) -> LoadReport:
    started = time.perf_counter()
    async with sessions() as session:
        if wipe:
            await reset(session)
        await _insert_new(
            session,
            Area.__table__,
            [{"code": a.code, "name": a.name, "level": a.level, "parent_code": a.parent_code} for a in world.areas],
            "code",
        )
        communities = set((await session.exec(select(Area.code).where(Area.level == "community"))).all())
        missing = {e.area_code for e in world.elders} - communities
        if missing:
            raise ValueError(f"elders live in unknown communities: {sorted(missing)[:5]}")
        provider_ids = await _load_providers(session, world)
        before = (await session.exec(select(Elder.id).order_by(col(Elder.id).desc()).limit(1))).first() or 0
        await _insert_new(session, Elder.__table__, _elder_rows(world, provider_ids), "id_number")
        added = (await session.exec(select(Elder.id, Elder.id_number).where(col(Elder.id) > before))).all()
        await _load_programme(session, world, {number: elder_id for elder_id, number in added})
        record_change(
            session,
            actor="seed",
            action="seed.load",
            entity="world",
            entity_id=world.scenario,
            after={
                "seed": world.seed,
                "areas": len(world.areas),
                "providers": len(world.providers),
                "elders": len(world.elders),
                "elders_added": len(added),
            },
        )
        await session.commit()
    return LoadReport(
        len(world.areas), len(world.providers), len(world.elders), time.perf_counter() - started, len(added)
    )
