"""Every supervision endpoint refuses bad input with 401/403/404/422 problem+json, never a 500."""

from __future__ import annotations

import pytest

from service.app import create_app
from service.settings import Settings
from tests.factories import provider_body

GETS = ["/api/v1/reports/monthly", "/api/v1/reports/exceptions", "/api/v1/reports/settlement"]
SUPERVISOR_GETS = [*GETS, "/api/v1/reports/closures", "/api/v1/prices", "/api/v1/quality"]


@pytest.mark.parametrize("path", SUPERVISOR_GETS + ["/api/v1/follow-ups/queue"])
async def test_no_token_is_401(client, db, path):
    response = await client.get(path, params={"month": "2026-10"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    bad = await client.get(path, params={"month": "2026-10"}, headers={"Authorization": "Bearer hc_nonsense"})
    assert bad.status_code == 401


@pytest.mark.parametrize("path", SUPERVISOR_GETS)
async def test_operators_and_providers_do_not_read_reports(client, token, path):
    admin = await token("admin")
    provider = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    for headers in (await token("operator"), await token("provider", provider_id=provider["id"])):
        response = await client.get(path, params={"month": "2026-10"}, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem")


@pytest.mark.parametrize("path", GETS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "month"),
        ({"month": "2026-13"}, "month"),
        ({"month": "202610"}, "month"),
        ({"month": "2099-01"}, "month"),
        ({"month": "0998-05"}, "month"),
        ({"month": "0000-01"}, "month"),
        ({"month": "9999-12"}, "month"),  # were 500s
        ({"month": "2026-10", "area": "53011"}, "area"),
        ({"month": "2026-10", "area": "999999"}, "area"),
        ({"month": "2026-10", "format": "docx"}, "format"),
    ],
)
async def test_bad_report_parameters_are_422_naming_the_field(client, token, path, params, field):
    response = await client.get(path, params=params, headers=await token("admin"))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_formats_each_report_does_not_offer_are_422(client, token):
    admin = await token("admin")
    for path, fmt in (("exceptions", "xlsx"), ("exceptions", "pdf"), ("settlement", "pdf")):
        response = await client.get(
            f"/api/v1/reports/{path}", params={"month": "2026-10", "format": fmt}, headers=admin
        )
        assert response.status_code == 422, (path, fmt)


async def test_bad_settlement_provider(client, token):
    admin = await token("admin")
    for provider_id, status in (("0", 422), ("abc", 422), ("99999", 404)):
        params = {"month": "2026-10", "provider_id": provider_id}
        response = await client.get("/api/v1/reports/settlement", params=params, headers=admin)
        assert response.status_code == status, provider_id


async def test_a_regulator_outside_its_area_is_403_even_for_unknown_codes(client, token):
    regulator = await token("regulator", area_code="530111001")
    for path in GETS:
        response = await client.get(path, params={"month": "2026-10", "area": "999999"}, headers=regulator)
        assert response.status_code == 403, path


def test_the_openapi_document_lists_every_refusal():
    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    expected = {
        ("get", "/api/v1/reports/monthly"): {"401", "403", "422", "503"},
        ("get", "/api/v1/reports/exceptions"): {"401", "403", "422"},
        ("get", "/api/v1/reports/settlement"): {"401", "403", "404", "422"},
        ("post", "/api/v1/reports/closures"): {"401", "403", "409", "422"},
        ("get", "/api/v1/reports/closures"): {"401", "403", "422"},
        ("get", "/api/v1/prices"): {"401", "403", "422"},
        ("post", "/api/v1/prices"): {"401", "403", "409", "422"},
        ("post", "/api/v1/visits/{visit_id}/follow-up"): {"401", "403", "404", "409", "422"},
        ("get", "/api/v1/follow-ups/queue"): {"401", "403", "422"},
        ("get", "/api/v1/quality"): {"401", "403", "422"},
        ("post", "/api/v1/quality/assessments"): {"401", "403", "409", "422"},
        ("post", "/api/v1/providers/{provider_id}/reinstate"): {"401", "403", "404", "409", "422"},
    }
    for (method, path), codes in expected.items():
        listed = set(spec["paths"][path][method]["responses"])
        assert codes <= listed, (method, path, codes - listed)
    monthly = spec["paths"]["/api/v1/reports/monthly"]["get"]["responses"]["200"]["content"]
    assert {
        "application/json",
        "text/csv",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    } <= set(monthly)


async def test_the_remaining_refusals(client, token):
    admin = await token("admin")
    price = {"service": "meal", "unit_price_yuan": "18.00", "effective_from": "2027-01-01"}
    assert (await client.post("/api/v1/prices", json=price)).status_code == 401
    assert (await client.post("/api/v1/providers/1/reinstate", json={"reason": "x"})).status_code == 401
    assert (await client.post("/api/v1/reports/closures", json={"month": "2026-10"})).status_code == 401
    bad = (
        ("/api/v1/reports/closures", {"month": "2026-13"}),
        ("/api/v1/reports/closures", {"area": "53"}),
        ("/api/v1/prices", {"service": "nap"}),
        ("/api/v1/quality", {}),
    )
    for path, params in bad:
        response = await client.get(path, params=params, headers=admin)
        assert response.status_code == 422 and response.json()["errors"], (path, params)
