"""How `homecare serve` runs uvicorn: its timeouts, and limits on the request head.

uvicorn reads a request's head (request line and headers) before the app sees anything, and its httptools
protocol bounds neither how long that may take nor how large it may grow: a client could send a header a
byte a second, or megabytes of one header, and keep its connection and buffer for as long as it liked. The
protocol below adds both bounds: a head must be complete within `HOMECARE_HEADER_TIMEOUT_S` of the
connection opening or of the request's first byte (else 408), and at most `HOMECARE_MAX_HEADER_BYTES` long
(else 431); either way the connection is closed. The body's bounds are the app's (service/limits.py), an
idle kept-alive connection is closed after `HOMECARE_KEEP_ALIVE_S` (uvicorn's own timer).
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import PROBLEM_JSON, problem_body
from service.settings import Settings


def refusal(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection: problem+json, as the app's refusals are."""
    body = json.dumps(problem_body(status, detail), ensure_ascii=False, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a timeout and a size limit on each request's head."""

    head_timeout_s: float = 10.0
    max_head_bytes: int = 65_536

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True  # reading a request's head: from the connection or the end of the last request
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, f"the request head is larger than {self.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the first byte of a request: its head must follow in time

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(408, f"the request head did not arrive within {self.head_timeout_s:g} s")

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # never in the middle of another response
            self.transport.write(refusal(status, detail))
        self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    return type(
        "GuardedHttpTools",
        (GuardedHttpToolsProtocol,),
        {"head_timeout_s": settings.header_timeout_s, "max_head_bytes": settings.max_header_bytes},
    )


def server_config(app, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=guarded_protocol(settings),
        timeout_keep_alive=settings.keep_alive_s,
        # Only h11 reads this (the protocol above is httptools'); set so that either bounds the head.
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
