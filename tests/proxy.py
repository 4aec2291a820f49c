"""A TCP proxy in front of the shared PostgreSQL, to stage a database outage without touching the server.

The shared server must never be stopped or restarted (others' test runs use it). The proxy does to its
clients what an outage does, in two ways:

- `cut(refuse_s)`: the network's way. Every open connection is reset at once (the backends behind them
  end, so their advisory locks are released), and for `refuse_s` seconds new connections are refused
  (ECONNREFUSED: nothing listens on the port). Then it listens again on the same port.
- `restart(down_s)`: PostgreSQL's own way (`pg_ctl restart -m fast`). Every session is sent FATAL 57P01
  "terminating connection due to administrator command" and closed a moment later (a backend takes a
  while to exit), and for `down_s` seconds new connections are answered FATAL 57P03 "the database system
  is shutting down" after their startup packet.

Reusable by tests and benchmarks:

    async with TcpProxy("127.0.0.1", 5432) as proxy:
        url = proxy.route(database_url)       # the same URL, through the proxy
        ...
        await proxy.cut(refuse_s=2.0)         # returns at once; accepts again after 2 s
        await proxy.accepting()               # wait for that
        await proxy.outage("restart", 2.0)    # or "network": the same as restart() or cut()
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field
from typing import Self

from sqlalchemy.engine import make_url

SSL_REQUEST = 80877103
BACKEND_EXIT_S = 0.2  # between a backend's FATAL and its socket closing


def error_response(code: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse message of severity FATAL."""
    fields = (
        b"".join(
            kind + text.encode() + b"\0"
            for kind, text in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
        )
        + b"\0"
    )
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


ADMIN_SHUTDOWN = error_response("57P01", "terminating connection due to administrator command")
SHUTTING_DOWN = error_response("57P03", "the database system is shutting down")


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    pipes: list[asyncio.Task] = field(default_factory=list)

    def abort(self) -> None:
        for pipe in self.pipes:
            pipe.cancel()
        for writer in (self.client, self.server):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # a reset, at once


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._background: set[asyncio.Task] = set()
        self._open = asyncio.Event()
        self._shutting_down = False
        self.cuts = 0

    @classmethod
    def before(cls, database_url: str) -> TcpProxy:
        """A proxy for the server a database URL names (not started)."""
        url = make_url(database_url)
        return cls(url.host or "127.0.0.1", url.port or 5432)

    def route(self, database_url: str) -> str:
        """The URL with its host and port replaced by the proxy's (SQLAlchemy or asyncpg form)."""
        return make_url(database_url).set(host=self.host, port=self.port).render_as_string(hide_password=False)

    async def start(self) -> Self:
        await self._listen()
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *_exc) -> None:
        await self.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]  # the same port again after a cut
        self._open.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._shutting_down:
            await self._refuse_startup(client_reader, client_writer)
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        link = _Link(client_writer, server_writer)
        self._links.add(link)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            link.pipes.append(self._spawn(self._pipe(reader, writer, link)))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        except asyncio.CancelledError:
            return  # whoever cancelled decides what becomes of the sockets
        self._links.discard(link)  # one side hung up: so does the other
        with contextlib.suppress(Exception):
            writer.close()

    async def _refuse_startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer a connection's startup as a server that is shutting down does."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code == SSL_REQUEST:  # no TLS here; then the real startup packet follows
                writer.write(b"N")
                length, _ = struct.unpack("!ii", await reader.readexactly(8))
            await reader.readexactly(length - 8)
            writer.write(SHUTTING_DOWN)
            await writer.drain()
        writer.close()

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def cut(self, refuse_s: float = 0.0) -> None:
        """Reset every connection now; refuse new ones for `refuse_s` seconds (in the background)."""
        self.cuts += 1
        if refuse_s > 0:
            self._stop_listening()
            self._spawn(self._listen_after(refuse_s))
        for link in list(self._links):
            link.abort()
        self._links.clear()

    async def restart(self, down_s: float = 1.0) -> None:
        """What a fast restart of PostgreSQL does to its clients (returns at once; up again after down_s)."""
        self.cuts += 1
        self._shutting_down = True
        self._open.clear()
        links, self._links = list(self._links), set()
        for link in links:
            link.pipes[1].cancel()  # nothing more from the backend but its goodbye
            with contextlib.suppress(Exception):
                link.client.write(ADMIN_SHUTDOWN)
        self._spawn(self._exit_backends(links))
        self._spawn(self._up_after(down_s))

    async def outage(self, kind: str, seconds: float) -> None:
        """`restart` (PostgreSQL's way) or `network` (a cut) for `seconds`: for tests run both ways."""
        if kind == "restart":
            await self.restart(down_s=seconds)
        elif kind == "network":
            await self.cut(refuse_s=seconds)
        else:
            raise ValueError(f"unknown outage {kind!r}")

    async def _exit_backends(self, links: list[_Link]) -> None:
        await asyncio.sleep(BACKEND_EXIT_S)
        for link in links:
            link.abort()

    async def _up_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._shutting_down = False
        self._open.set()

    def _stop_listening(self) -> None:
        self._open.clear()
        if self._server is not None:
            self._server.close()  # the listening socket closes at once; connections are cut separately
            self._server = None

    async def _listen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._listen()

    async def accepting(self, timeout_s: float = 30.0) -> None:
        """Wait until the proxy passes new connections through again."""
        await asyncio.wait_for(self._open.wait(), timeout_s)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        self._stop_listening()
        await self.cut()
