"""The transaction rule seen from outside (docs/design.md § Transactions): a request's transaction has
ended, and its connection is back in the pool, before its answer is sent; the dispatcher is woken only by
work that committed."""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.service.helpers import build_world, new_request

pytestmark = pytest.mark.asyncio


async def answer_start(app, method: str, path: str, headers: dict[str, str], body: dict | None = None):
    """Call the app as a server would; (status, body, connections checked out of the pool at the moment
    the answer began to be sent)."""
    raw = json.dumps(body).encode() if body is not None else b""
    head = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body is not None:
        head += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": head,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    sent, seen = [], {}

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            seen["status"], seen["checked_out"] = message["status"], app.state.engine.pool.checkedout()
        elif message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return seen["status"], json.loads(b"".join(sent)), seen["checked_out"]


async def test_a_request_ends_its_transaction_before_its_answer_is_sent(client, token, app):
    world = await build_world(client, token)
    request = await new_request(client, world)
    read = await answer_start(app, "GET", f"/api/v1/requests/{request['id']}", world.operator)
    assert read[0] == 200 and read[1]["id"] == request["id"] and read[2] == 0
    cancelled = await answer_start(
        app, "POST", f"/api/v1/requests/{request['id']}/cancel", world.operator, {"reason": "家属已送医"}
    )
    assert cancelled[0] == 200 and cancelled[1]["status"] == "cancelled" and cancelled[2] == 0
    refused = await answer_start(
        app, "POST", f"/api/v1/requests/{request['id']}/cancel", world.operator, {"reason": "again"}
    )
    assert refused[0] == 409 and refused[2] == 0
    after = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert after["status"] == "cancelled" and after["cancel_reason"] == "家属已送医"  # committed, once


class Recorder:
    def __init__(self) -> None:
        self.pokes: list[bool] = []

    def poke(self, emergency: bool = False) -> None:
        self.pokes.append(emergency)


@contextlib.contextmanager
def recording(app):
    own, app.state.dispatcher = getattr(app.state, "dispatcher", None), Recorder()
    try:
        yield app.state.dispatcher
    finally:
        app.state.dispatcher = own


async def test_only_new_work_wakes_the_dispatcher_once_committed(client, token, app):
    world = await build_world(client, token)
    alert = {"elder_id": world.elder_id, "kind": "fall", "at": "2026-01-05T08:00:00+08:00"}
    with recording(app) as dispatcher:
        refused = await client.post("/api/v1/alerts", json={**alert, "elder_id": 999_999}, headers=world.operator)
        assert refused.status_code == 422 and dispatcher.pokes == []
        created = await client.post("/api/v1/alerts", json=alert, headers=world.operator)
        assert created.status_code == 201 and dispatcher.pokes == [True]
        joined = await client.post("/api/v1/alerts", json=alert, headers=world.operator)
        assert joined.status_code == 200 and joined.json()["id"] == created.json()["id"]
        assert dispatcher.pokes == [True]  # nothing new to dispatch
