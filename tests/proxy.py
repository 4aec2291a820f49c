"""A TCP proxy in front of the shared PostgreSQL, to stage a database outage without touching the server.

The shared server must never be stopped or restarted (others' test runs use it). What a restart does to
clients is what this proxy does on `cut()`: every open connection is closed at once (the backends behind
them end, so their advisory locks are released), and for `refuse_s` seconds new connections are refused
(ECONNREFUSED: nothing listens on the port), as while a server is down. Then it listens again on the same
port. Reusable by tests and benchmarks:

    async with TcpProxy("127.0.0.1", 5432) as proxy:
        url = proxy.route(database_url)       # the same URL, through the proxy
        ...
        await proxy.cut(refuse_s=2.0)         # returns at once; accepts again after 2 s
        await proxy.accepting()               # wait for that
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._reopen: asyncio.Task | None = None
        self._open = asyncio.Event()
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
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(reader, writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def cut(self, refuse_s: float = 0.0) -> None:
        """Close every connection now; refuse new ones for `refuse_s` seconds (in the background)."""
        self.cuts += 1
        if refuse_s > 0:
            await self._stop_listening()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # a reset, at once, on both sides
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()
        if refuse_s > 0:
            self._reopen = asyncio.get_running_loop().create_task(self._listen_after(refuse_s))

    async def _stop_listening(self) -> None:
        self._open.clear()
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        if self._server is not None:
            self._server.close()  # the listening socket closes at once; connections are cut separately
            self._server = None

    async def _listen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._listen()

    async def accepting(self, timeout_s: float = 30.0) -> None:
        """Wait until the proxy accepts connections again."""
        await asyncio.wait_for(self._open.wait(), timeout_s)

    async def close(self) -> None:
        await self._stop_listening()
        await self.cut()
