"""Issue 10, item 7 and the read timeouts: bodies and heads are bounded in size and time, refused as
problem+json before they are parsed, and the service goes on answering meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import pytest
import uvicorn
from sqlmodel import func, select

from service.app import create_app
from service.lifecycle.models import ServiceRequest
from service.serving import server_config
from tests.service.helpers import build_world

pytestmark = pytest.mark.asyncio
MB = 1_048_576


async def _requests(db) -> int:
    async with db() as session:
        return (await session.exec(select(func.count()).select_from(ServiceRequest))).one()


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(client, token, db):
    world = await build_world(client, token)
    body = json.dumps({"elder_id": world.elder_id, "service": "clean", "note": "x" * (2 * MB)})
    response = await client.post(
        "/api/v1/requests", content=body, headers={**world.operator, "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"the request body is larger than {MB} bytes"
    assert response.headers["connection"] == "close"
    assert await _requests(db) == 0


async def test_a_streamed_body_over_the_limit_is_413_as_soon_as_it_passes_it(client, token, db):
    """No Content-Length (chunked): counted as it arrives; the rest is never read."""
    world = await build_world(client, token)
    sent = 0

    async def chunks():
        nonlocal sent
        yield b'{"elder_id": %d, "service": "clean", "note": "' % world.elder_id
        for _ in range(40):  # 40 x 64 KiB: 2.5 MiB offered
            sent += 1
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/api/v1/requests", content=chunks(), headers={**world.operator, "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert sent <= 17  # 1 MiB and one chunk more, not the whole body
    assert await _requests(db) == 0


async def test_a_batch_of_too_many_visits_is_422_naming_the_field(client, token, db):
    """Too many items is an invalid body, not a too large one: 422 (a batch of 201 small items fits in 1 MB)."""
    world = await build_world(client, token)
    item = {
        "assignment_id": 1,
        "client_visit_id": "0b7c2b1e-5a7e-4d2b-9a51-2f0f5d3c9e11",
        "check_in": {"at": "2026-11-02T09:00:00+08:00", "location": {"lat": 25.0, "lon": 102.7}},
    }
    response = await client.post("/api/v1/provider/visits:batch", json={"visits": [item] * 201}, headers=world.provider)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "visits"


async def test_a_batch_item_echoes_no_huge_client_visit_id(client, token, db):
    world = await build_world(client, token)
    item = {"assignment_id": 1, "client_visit_id": "z" * 500_000}
    response = await client.post("/api/v1/provider/visits:batch", json={"visits": [item]}, headers=world.provider)
    assert response.status_code == 200 and len(response.content) < 5_000
    [result] = response.json()["results"]
    assert not result["ok"] and result["client_visit_id"] is None


# A live server, for what only a server sees: a request's head, and a body arriving over time.
@contextlib.asynccontextmanager
async def live_server(settings):
    app = create_app(
        settings.model_copy(update={"header_timeout_s": 1.0, "body_timeout_s": 1.0, "max_header_bytes": 8192})
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(app, app.state.settings, host="127.0.0.1", port=port))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        await serving


async def exchange(port: int, *parts: bytes, pause: float = 0.0) -> tuple[int, dict, bytes]:
    """Send the parts, pausing between them and stopping once an answer is coming, then read the answer to its
    end (the server closes the connection after it). Reading goes on meanwhile, so that an answer that comes
    early is in hand before anything more is sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = bytearray()

    async def read_all() -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                answer.extend(chunk)

    reading = asyncio.create_task(read_all())
    try:
        for part in parts:
            if answer or reading.done():
                break
            try:
                writer.write(part)
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(pause)
        await asyncio.wait_for(reading, 30)
    finally:
        writer.close()
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


async def livez(port: int) -> int:
    status, _, _ = await exchange(port, b"GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    return status


async def test_a_live_server_bounds_heads_and_bodies_and_keeps_answering(settings, token, db):
    operator = (await token("operator"))["Authorization"].encode()
    async with live_server(settings) as port:
        # A body that trickles in a byte at a time is cut at the body timeout: 408, connection closed.
        head = (
            b"POST /api/v1/requests HTTP/1.1\r\nHost: t\r\nAuthorization: "
            + operator
            + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        trickle = [head] + [b" "] * 100
        slow_body, (status, headers, body) = (
            asyncio.create_task(livez(port)),
            await exchange(port, *trickle, pause=0.05),
        )
        assert status == 408 and headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close" and json.loads(body)["status"] == 408
        assert await slow_body == 200  # answered while the slow client was held

        # A head that never completes: 408 from the server itself, problem+json.
        status, headers, body = await exchange(port, b"GET /livez HTTP/1.1\r\nHost: t\r\nX-Slow: ", b"a", pause=0.3)
        assert status == 408 and json.loads(body)["detail"] == "the request head did not arrive within 1 s"

        # A head larger than the limit: 431.
        status, _, body = await exchange(port, b"GET /livez HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000)
        assert status == 431 and json.loads(body)["status"] == 431

        # 20 MB declared: 413 at once, without a byte of it read; chunked 20 MB: 413 after 1 MB.
        status, headers, body = await exchange(
            port,
            b"POST /api/v1/requests HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20971520\r\n\r\n",
        )
        assert status == 413 and headers["content-type"] == "application/problem+json"
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        status, _, _ = await exchange(
            port,
            b"POST /api/v1/requests HTTP/1.1\r\nHost: t\r\nAuthorization: "
            + operator
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            *[chunk] * 320,
            pause=0.01,
        )
        assert status == 413
        assert await livez(port) == 200
