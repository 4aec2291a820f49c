"""Fixtures of the service tests."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from service.settings import get_settings
from tests.conftest import clean_database, token_factory
from tests.service.helpers import accepted_assignment, ago, build_world, check_in_body


@pytest.fixture(scope="module")
async def hostile_world(app):
    """The small world the tables refer to, and each role's headers. Built once per backend: every case
    is refused with nothing written (as each test checks), so the world stays as it was."""
    sessions = await clean_database(app.state.sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        world = await build_world(client, token_factory(sessions))
        request, assignment = await accepted_assignment(client, sessions, world)
        visit = await client.post(
            "/api/v1/provider/visits", json=check_in_body(assignment, ago(minutes=70)), headers=world.provider
        )
        assert visit.status_code == 201, visit.text
        ids = {
            "elder": world.elder_id,
            "provider": world.provider_id,
            "request": request["id"],
            "assignment": assignment,
            "visit": visit.json()["id"],
        }
        gateway = await client.post("/api/v1/gateways", json={"name": "hostile-gw"}, headers=world.admin)
        roles = {
            "admin": world.admin,
            "operator": world.operator,
            "provider": world.provider,
            "gateway": await token_factory(sessions)("gateway", gateway_id=gateway.json()["id"]),
        }
        yield client, sessions, ids, roles


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The `homecare` command on a fresh SQLite database of its own."""
    monkeypatch.setenv("HOMECARE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
