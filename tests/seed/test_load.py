"""Loading a generated district into the real database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from seed.load import load_world
from seed.world import generate_world
from service.areas.models import Area
from service.audit.models import AuditEvent
from service.elders.models import AbilityAssessment, Elder, ElderCategory
from service.entitlements.models import EntitlementPolicy
from service.providers.models import Caregiver, Provider, ProviderArea, Station

pytestmark = pytest.mark.asyncio


async def counts(db) -> dict[str, int]:
    async with db() as session:
        return {
            model.__name__: (await session.exec(select(func.count()).select_from(model))).one()
            for model in (
                Area,
                Provider,
                Station,
                ProviderArea,
                Caregiver,
                Elder,
                ElderCategory,
                AbilityAssessment,
                EntitlementPolicy,
            )
        }


async def test_loading_twice_changes_nothing_and_reset_starts_over(db):
    world = generate_world("guandu", elders=300, seed=7)
    first = await load_world(db, world)
    after_first = await counts(db)
    assert after_first["Elder"] == 300 and after_first["Provider"] == len(world.providers)
    # The survey's records: one assessment per elder, their categories, the district's policy.
    assert after_first["AbilityAssessment"] == 300 and after_first["EntitlementPolicy"] == 1
    assert after_first["ElderCategory"] == sum(len(e.categories) for e in world.elders) > 0
    await load_world(db, world)
    assert await counts(db) == after_first
    await load_world(db, world, wipe=True)
    assert await counts(db) == {**after_first, "Area": len(world.areas)}  # the test tree is gone too
    assert first.elders == 300


async def test_loading_again_with_another_count_adds_only_the_missing_elders(db):
    """`seed guandu` then `seed guandu --elders 500` failed on a device id that the smaller run gave to
    another elder; now elder i is the same whatever the count."""
    first = await load_world(db, generate_world("guandu", elders=1_200, seed=7))
    fewer = await load_world(db, generate_world("guandu", elders=500, seed=7))
    assert (first.elders_added, fewer.elders_added) == (1_200, 0) and (await counts(db))["Elder"] == 1_200
    more = await load_world(db, generate_world("guandu", elders=2_100, seed=7))
    assert more.elders_added == 900 and (await counts(db))["Elder"] == 2_100


async def test_loaded_elders_keep_their_facts_and_previous_provider(db):
    world = generate_world("guandu", elders=200, seed=11)
    await load_world(db, world)
    async with db() as session:
        providers = dict((await session.exec(select(Provider.id, Provider.name))).all())
        by_id_number = {e.id_number: e for e in (await session.exec(select(Elder))).all()}
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "seed.load"))).all()
    for generated in world.elders:
        stored = by_id_number[generated.id_number]
        assert (stored.name, stored.area_code, stored.visits_per_month) == (
            generated.name,
            generated.area_code,
            generated.visits_per_month,
        )
        assert abs(stored.lat - generated.lat) < 1e-9 and abs(stored.lon - generated.lon) < 1e-9
        if generated.previous_provider is None:
            assert stored.last_provider_id is None
        else:
            assert providers[stored.last_provider_id] == world.providers[generated.previous_provider].name
    assert events and events[-1].after["elders"] == 200


async def test_haikou_loads_too(db):
    world = generate_world("haikou", elders=300, seed=3)
    report = await load_world(db, world)
    assert report.elders == 300 and (await counts(db))["Elder"] == 300
