"""Refusals keep the client's connection: a real uvicorn server, one keep-alive connection.

After an unhandled error uvicorn closes the connection the 500 went out on, so the next request a
client had queued on it fails (issue 10). With every bad input a 4xx there is nothing to close: the
whole conversation below runs on one connection, which the server sees as one client port.
"""

from __future__ import annotations

import asyncio

import httpx
import uvicorn

from service.app import create_app
from service.migrate import migrate
from service.settings import Settings
from tests.conftest import clean_database, token_factory
from tests.factories import elder_body, provider_body


async def test_bad_requests_then_a_good_one_on_one_keep_alive_connection(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/keep-alive.db"
    await asyncio.to_thread(migrate, url)
    app = create_app(Settings(database_url=url, scheduler_enabled=False))
    admin = await token_factory(await clean_database(app.state.sessions))("admin")
    ports = []

    async def recording(scope, receive, send):
        if scope["type"] == "http":
            ports.append(scope["client"][1])
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(recording, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):  # a bound against a hang, not a timing assertion
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", headers=admin, limits=one) as c:
            elder = (await c.post("/elders", json=elder_body())).json()["id"]
            provider = (await c.post("/providers", json=provider_body())).json()["id"]
            statuses = [
                (await request).status_code
                for request in (
                    c.patch(f"/elders/{elder}", json={"services": None}),
                    c.get(f"/elders/{2**63}"),
                    c.get("/reports/monthly", params={"month": "0998-05"}),
                    c.post("/plans", json={"month": "9999-12"}),
                    c.patch(f"/providers/{provider}", json={"name": None}),
                    c.get(f"/elders/{elder}"),
                )
            ]
    finally:
        server.should_exit = True
        await serving
    assert statuses == [422, 422, 422, 422, 422, 200]
    assert len(ports) == 8 and len(set(ports)) == 1  # every request on the one connection
