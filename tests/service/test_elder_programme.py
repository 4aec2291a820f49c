"""Elders as the programmes know them (categories, assessments, contacts), the entitlement policy, and the
monthly plan that reads it: through the real app, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from service.audit.models import AuditEvent
from service.db import utcnow
from service.elders.models import AbilityAssessment, Elder, ElderCategory, ElderContact
from service.entitlements.models import EntitlementPolicy
from service.lifecycle.models import ServiceRequest
from service.months import first_day, month_of, next_month, previous_month
from tests.factories import elder_body, id_number
from tests.service.helpers import build_world

pytestmark = pytest.mark.asyncio
ELDERS, POLICIES = "/api/v1/elders", "/api/v1/policies"


def fields_of(response) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return [e["field"] for e in response.json().get("errors", [])]


async def count(db, model) -> int:
    async with db() as session:
        return len((await session.exec(select(model))).all())


def guandu_policy(start: date, **overrides) -> dict:
    body = {
        "area_code": "530111",
        "name": "官渡照护 2026",
        "effective_from": start.isoformat(),
        "rules": [
            {
                "categories": ["tekun", "dibao"],
                "levels": ["moderate", "severe", "total"],
                "visits_per_month": 2,
                "services": ["clean", "medical"],
                "subsidy_cap_yuan": "300",
                "copay_share": "0",
            },
            {
                "categories": ["aged_80", "living_alone"],
                "visits_per_month": 1,
                "services": ["companionship"],
                "subsidy_cap_yuan": 120,
                "copay_share": "0.2",
            },
        ],
    }
    body.update(overrides)
    return body


async def test_categories_recorded_and_derived(client, token, db):
    admin = await token("admin")
    elder = (await client.post(ELDERS, json=elder_body(id_number=id_number(born="19400101")), headers=admin)).json()
    path = f"{ELDERS}/{elder['id']}/categories"
    body = {"category": "living_alone", "since": "2026-03-01", "source": "关上街道 2026 年摸底调查"}
    created = await client.post(path, json=body, headers={**admin, "Idempotency-Key": "cat-1"})
    assert created.status_code == 201, created.text
    again = await client.post(path, json=body, headers={**admin, "Idempotency-Key": "cat-1"})
    assert again.status_code == 201 and again.content == created.content  # replayed, not recorded twice
    assert (await client.post(path, json=body, headers=admin)).status_code == 409
    listed = (await client.get(path, headers=await token("operator"))).json()
    assert [(c["category"], c["derived"]) for c in listed] == [("living_alone", False), ("aged_80", True)]
    assert listed[0]["since"] == "2026-03-01" and listed[0]["source"].startswith("关上街道")
    seen = (await client.get(f"{ELDERS}/{elder['id']}", headers=admin)).json()
    assert seen["living_alone"] is True and seen["age"] >= 86

    for bad, field in (
        ({"category": "aged_80"}, "category"),
        ({"category": "rich"}, "category"),
        ({"since": "2026-02-30"}, "since"),
        ({"source": ""}, "source"),
        ({"extra": 1}, "extra"),
    ):
        refused = await client.post(path, json={**body, "category": "tekun", **bad}, headers=admin)
        assert refused.status_code == 422 and field in fields_of(refused), (bad, refused.text)
    assert await count(db, ElderCategory) == 1  # nothing written on refusal
    assert (await client.post(f"{ELDERS}/999999/categories", json=body, headers=admin)).status_code == 404
    assert (await client.post(path, json=body, headers=await token("operator"))).status_code == 403

    removed = await client.delete(f"{path}/living_alone", headers=admin)
    assert removed.status_code == 204
    assert (await client.get(f"{ELDERS}/{elder['id']}", headers=admin)).json()["living_alone"] is False
    assert (await client.delete(f"{path}/living_alone", headers=admin)).status_code == 404
    assert (await client.delete(f"{path}/aged_80", headers=admin)).status_code == 422


async def test_id_numbers_with_impossible_birth_dates_are_refused(client, token, db):
    admin = await token("admin")
    for born in ("19450230", "20990101"):  # 30 February; born in the future
        first17 = f"530111{born}001"
        from service.identity import id_check_char

        response = await client.post(ELDERS, json=elder_body(id_number=first17 + id_check_char(first17)), headers=admin)
        assert response.status_code == 422 and "id_number" in fields_of(response), born
    assert await count(db, Elder) == 0


async def test_assessments_and_contacts(client, token, db):
    admin, operator = await token("admin"), await token("operator")
    elder = (await client.post(ELDERS, json=elder_body(), headers=admin)).json()
    path = f"{ELDERS}/{elder['id']}/assessments"
    body = {
        "level": "moderate",
        "assessed_on": "2026-06-10",
        "assessor": "官渡区老年人能力评估中心",
        "next_review_on": "2027-06-10",
    }
    first = await client.post(path, json=body, headers=admin)
    assert first.status_code == 201 and first.json()["label"] == "能力中度受损(中度失能)", first.text
    later = await client.post(path, json={**body, "level": "severe", "assessed_on": "2026-09-01"}, headers=admin)
    assert later.status_code == 201
    listed = (await client.get(path, headers=operator)).json()
    assert [a["level"] for a in listed] == ["severe", "moderate"]  # the latest first
    future = (utcnow() + timedelta(days=3)).date().isoformat()
    for bad, field in (
        ({"level": "disabled"}, "level"),
        ({"next_review_on": "2026-06-10"}, "next_review_on"),
        ({"assessed_on": "2026-13-01"}, "assessed_on"),
        ({"assessed_on": future}, "assessed_on"),
        ({"assessed_on": "1930-01-01", "next_review_on": "1931-01-01"}, "assessed_on"),
        ({"assessor": " "}, "assessor"),
    ):
        refused = await client.post(path, json={**body, **bad}, headers=admin)
        assert refused.status_code == 422 and field in fields_of(refused), (bad, refused.text)
    assert await count(db, AbilityAssessment) == 2

    contacts = f"{ELDERS}/{elder['id']}/contacts"
    son = {"name": "张伟", "relation": "child", "phone": "+86 139-1234-5678", "guardian": True}
    added = await client.post(contacts, json=son, headers=admin)
    assert added.status_code == 201 and added.json()["phone"] == "13912345678", added.text
    assert (await client.get(contacts, headers=operator)).json()[0]["phone"] == "13912345678"  # they call him
    for bad, field in (({"phone": "12345"}, "phone"), ({"relation": "boss"}, "relation"), ({"name": ""}, "name")):
        refused = await client.post(contacts, json={**son, **bad}, headers=admin)
        assert refused.status_code == 422 and field in fields_of(refused), bad
    assert await count(db, ElderContact) == 1
    async with db() as session:  # the audit keeps no third person's number
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "elder.contact.add"))).all()
        assert "13912345678" not in str([e.after for e in events])
    contact_id = added.json()["id"]
    assert (await client.delete(f"{contacts}/{contact_id}", headers=admin)).status_code == 204
    assert (await client.get(contacts, headers=operator)).json() == []


async def test_policies_are_versioned_without_overlaps(client, token, db):
    admin = await token("admin")
    created = await client.post(
        POLICIES,
        json=guandu_policy(date(2026, 1, 1), effective_to="2026-12-31"),
        headers={**admin, "Idempotency-Key": "p-1"},
    )
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["rules"][1] == {
        "categories": ["living_alone", "aged_80"],
        "levels": [],
        "visits_per_month": 1,
        "services": ["companionship"],
        "subsidy_cap_yuan": "120.00",
        "copay_share": "0.2",
    }
    overlapping = await client.post(POLICIES, json=guandu_policy(date(2026, 12, 1)), headers=admin)
    assert overlapping.status_code == 409 and str(policy["id"]) in overlapping.json()["detail"]
    successor = await client.post(POLICIES, json=guandu_policy(date(2027, 1, 1)), headers=admin)
    assert successor.status_code == 201
    # Ending the first later would overlap its successor; earlier is fine.
    assert (
        await client.patch(f"{POLICIES}/{policy['id']}", json={"effective_to": "2027-02-01"}, headers=admin)
    ).status_code == 409
    ended = await client.patch(f"{POLICIES}/{policy['id']}", json={"effective_to": "2026-11-30"}, headers=admin)
    assert ended.status_code == 200 and ended.json()["effective_to"] == "2026-11-30"
    for bad, field in (
        ({"effective_from": "2026-02-30"}, "effective_from"),
        ({"effective_from": "2028-05-01", "effective_to": "2028-04-01"}, "effective_to"),
        ({"area_code": "530111777"}, "area_code"),
        ({"rules": []}, "rules"),
        ({"rules": [{**guandu_policy(date(2026, 1, 1))["rules"][0], "levels": ["weak"]}]}, "rules.0.levels.0"),
        ({"rules": [{**guandu_policy(date(2026, 1, 1))["rules"][0], "categories": ["rich"]}]}, "rules.0.categories.0"),
        (
            {"rules": [{**guandu_policy(date(2026, 1, 1))["rules"][0], "visits_per_month": 3}]},
            "rules.0.visits_per_month",
        ),
        ({"rules": [{**guandu_policy(date(2026, 1, 1))["rules"][0], "copay_share": "1.5"}]}, "rules.0.copay_share"),
    ):
        refused = await client.post(POLICIES, json=guandu_policy(date(2028, 1, 1), **bad), headers=admin)
        assert refused.status_code == 422 and field in fields_of(refused), (bad, refused.text)
    assert await count(db, EntitlementPolicy) == 2
    listed = await client.get(
        POLICIES, params={"on": "2026-06-01"}, headers=await token("regulator", area_code="530111")
    )
    assert [p["id"] for p in listed.json()] == [policy["id"]]
    assert (
        await client.post(POLICIES, json=guandu_policy(date(2029, 1, 1)), headers=await token("operator"))
    ).status_code == 403


async def test_the_plan_takes_visits_from_the_policy_and_an_assessment_changes_only_later_plans(
    client, token, db, settings
):
    world = await build_world(client, token, visits_per_month=1)
    admin = world.admin
    month = month_of(utcnow(), settings.tz)
    start = first_day(previous_month(month))
    assert (await client.post(POLICIES, json=guandu_policy(start), headers=admin)).status_code == 201
    elder = world.elder_id
    entitlement = f"{ELDERS}/{elder}/entitlement"
    # No category or assessment recorded: the registry's number, as before.
    plain = (await client.get(entitlement, params={"month": month}, headers=world.operator)).json()
    assert (plain["source"], plain["visits_per_month"], plain["policy_id"]) == ("registry", 1, None)

    await client.post(
        f"{ELDERS}/{elder}/categories",
        headers=admin,
        json={"category": "tekun", "since": start.isoformat(), "source": "民政局特困人员名册"},
    )
    today = utcnow().astimezone(settings.tz).date()
    await client.post(
        f"{ELDERS}/{elder}/assessments",
        headers=admin,
        json={
            "level": "severe",
            "assessed_on": today.isoformat(),
            "assessor": "评估中心",
            "next_review_on": (today + timedelta(days=365)).isoformat(),
        },
    )
    # The past is not rewritten: last month read no assessment, so only the second rule (80+) admitted her.
    before = (await client.get(entitlement, params={"month": previous_month(month)}, headers=admin)).json()
    assert (before["source"], before["visits_per_month"], before["rule"]["index"]) == ("policy", 1, 1)
    assert before["categories"] == ["tekun", "aged_80"] and before["ability_level"] is None
    ahead = (await client.get(entitlement, params={"month": next_month(month)}, headers=admin)).json()
    assert (ahead["source"], ahead["visits_per_month"], ahead["ability_level"]) == ("policy", 2, "severe")
    assert ahead["rule"]["index"] == 0 and ahead["rule"]["subsidy_cap_yuan"] == "300.00"

    plan = await client.post("/api/v1/plans", params={"wait": "true"}, json={"month": next_month(month)}, headers=admin)
    assert plan.status_code == 200 and plan.json()["state"] == "done", plan.text
    async with db() as session:
        seqs = (
            await session.exec(
                select(ServiceRequest.seq).where(
                    ServiceRequest.elder_id == elder, ServiceRequest.month == next_month(month)
                )
            )
        ).all()
    assert sorted(seqs) == [1, 2]
    seen = (await client.get(f"{ELDERS}/{elder}", headers=admin)).json()
    assert seen["visits_per_month"] == 2  # the policy's number, kept for the reports and old clients

    # An override of a governed elder needs its reason; with one, it wins until the reason is cleared.
    refused = await client.patch(f"{ELDERS}/{elder}", json={"visits_per_month": 1}, headers=admin)
    assert refused.status_code == 422 and "visits_override_reason" in fields_of(refused)
    overridden = await client.patch(
        f"{ELDERS}/{elder}", headers=admin, json={"visits_per_month": 1, "visits_override_reason": "家属每周照料"}
    )
    assert overridden.status_code == 200, overridden.text
    now_said = (await client.get(entitlement, params={"month": next_month(month)}, headers=admin)).json()
    assert (now_said["source"], now_said["visits_per_month"]) == ("override", 1)
    cleared = await client.patch(f"{ELDERS}/{elder}", json={"visits_override_reason": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["visits_override_reason"] is None
    # An elder nobody recorded anything about keeps `visits_per_month` as a plain field (old clients).
    other = (await client.post(ELDERS, json=elder_body(), headers=admin)).json()
    assert (
        await client.patch(f"{ELDERS}/{other['id']}", json={"visits_per_month": 0}, headers=admin)
    ).status_code == 200


async def test_a_stored_id_number_without_a_real_birth_date_reads_as_no_age(client, token, db, settings):
    admin = await token("admin")
    elder = (await client.post(ELDERS, json=elder_body(), headers=admin)).json()
    async with db() as session:  # written around the API, as an old import might have
        from sqlalchemy import update

        await session.exec(update(Elder).where(Elder.id == elder["id"]).values(id_number="530111194502300011"))
        await session.commit()
    seen = await client.get(f"{ELDERS}/{elder['id']}", headers=admin)
    assert seen.status_code == 200 and seen.json()["age"] is None
    month = month_of(utcnow(), settings.tz)
    said = await client.get(f"{ELDERS}/{elder['id']}/entitlement", params={"month": month}, headers=admin)
    assert said.status_code == 200 and said.json()["age"] is None and said.json()["source"] == "registry"
