from __future__ import annotations

import pytest

from tests.factories import provider_body
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio


async def test_admin_creates_and_updates_a_provider(client, token):
    admin = await token("admin")
    created = await client.post("/api/v1/providers", json=provider_body(name="官渡区颐康养老服务中心"), headers=admin)
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["areas"] == ["530111001"] and provider["status"] == "active"
    assert provider["stations"][0]["location"]["coord_sys"] == "wgs84"

    patched = await client.patch(
        f"/api/v1/providers/{provider['id']}",
        json={
            "areas": ["530111001", "530111002"],
            "monthly_quota": 500,
            "stations": [
                {"name": "太和站", "location": {"lat": 25.04, "lon": 102.72}},
                {"name": "关上站", "location": {"lat": 25.02, "lon": 102.74}},
            ],
        },
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["areas"] == ["530111001", "530111002"] and body["monthly_quota"] == 500
    assert [s["name"] for s in body["stations"]] == ["太和站", "关上站"]
    assert (await client.get(f"/api/v1/providers/{provider['id']}", headers=admin)).json() == body


async def test_area_filter_matches_contracts_above_and_below(client, token):
    admin = await token("admin")
    street = (await client.post("/api/v1/providers", json=provider_body(areas=["530111001"]), headers=admin)).json()
    county = (await client.post("/api/v1/providers", json=provider_body(areas=["530111"]), headers=admin)).json()
    other = (await client.post("/api/v1/providers", json=provider_body(areas=["460106"]), headers=admin)).json()
    found = (await client.get("/api/v1/providers", params={"area": "530111001001"}, headers=admin)).json()
    assert {p["id"] for p in found["items"]} == {street["id"], county["id"]}
    found = (await client.get("/api/v1/providers", params={"area": "530111"}, headers=admin)).json()
    assert {p["id"] for p in found["items"]} == {street["id"], county["id"]}
    assert other["id"] not in {p["id"] for p in found["items"]}


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"stations": []}, "stations"),
        ({"stations": [{"name": "x", "location": {"lat": -91, "lon": 0}}]}, "stations.0.location.lat"),
        ({"areas": []}, "areas"),
        ({"areas": ["999999"]}, "areas.0"),
        ({"areas": ["53"]}, "areas.0"),
        ({"services": ["nap"]}, "services.0"),
        ({"monthly_quota": -1}, "monthly_quota"),
        ({"contract_start": "2027-01-01", "contract_end": "2026-01-01"}, "body"),
        ({"contract_start": "not a date"}, "contract_start"),
        ({"status": "closed"}, "status"),
    ],
)
async def test_registry_rejects_bad_providers(client, token, override, field):
    admin = await token("admin")
    response = await client.post("/api/v1/providers", json=provider_body(**override), headers=admin)
    assert response.status_code == 422, response.text
    assert field in problem_fields(response)
    assert (await client.get("/api/v1/providers", headers=admin)).json()["items"] == []


async def test_duplicate_name_and_bad_patch(client, token):
    admin = await token("admin")
    first = (await client.post("/api/v1/providers", json=provider_body(name="同名"), headers=admin)).json()
    assert (await client.post("/api/v1/providers", json=provider_body(name="同名"), headers=admin)).status_code == 409
    bad = await client.patch(f"/api/v1/providers/{first['id']}", json={"contract_end": "2020-01-01"}, headers=admin)
    assert bad.status_code == 422 and "contract_end" in problem_fields(bad)
    assert (await client.patch("/api/v1/providers/424242", json={"monthly_quota": 1}, headers=admin)).status_code == 404
    unchanged = (await client.get(f"/api/v1/providers/{first['id']}", headers=admin)).json()
    assert unchanged == first
