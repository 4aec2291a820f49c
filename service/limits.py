"""What a client may send in a request body: so much (413), so fast (408), refused before it is parsed.

A pure ASGI middleware, so nothing is buffered on the way: a declared Content-Length over the limit is
refused before a byte of the body is read; a body without one (chunked) is counted as it streams in and
refused as soon as it passes the limit; and the whole body must have arrived within the body timeout of
the request's start, so a client trickling a byte a second holds its connection for that long at most.
Both answers are problem+json and close the connection (the rest of the body is never read).

The request head (line and headers) has its own size limit and timeout in the server (service/serving.py):
an ASGI application only sees a request once its head is complete.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import problem

CLOSE = {"Connection": "close"}


class BodyRefused(HTTPException):
    """Raised while the body is read (inside FastAPI's body parsing): its handler renders problem+json."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, headers=CLOSE)


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, f"the request body is larger than {limit} bytes")


def too_slow(seconds: float) -> BodyRefused:
    return BodyRefused(408, f"the request body did not arrive within {seconds:g} s")


class BodyLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _refuse(scope, receive, send, too_large(self.max_body_bytes))
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        received = 0
        done = declared == 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received, done
            if done:  # the body is in: what follows (a disconnect) may take as long as the response does
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise too_slow(self.body_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise too_large(self.max_body_bytes)
                done = not message.get("more_body", False)
            return message

        async def observed_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, observed_send)
        except BodyRefused as refused:  # raised where no handler of the app saw it (the body read outside a route)
            if started:
                raise
            await _refuse(scope, receive, send, refused)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # the server refuses a malformed one itself
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, refused: BodyRefused) -> None:
    await problem(refused.status_code, refused.detail, headers=CLOSE)(scope, receive, send)
