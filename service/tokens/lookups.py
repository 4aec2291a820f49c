"""Token look-ups in batches: however many requests bring tokens the process does not know, the database
sees one query at a time, for all of them.

A flood of random tokens would otherwise cost a session and a query each, and could take every pooled
connection from the requests that do work. Here a request asks `find(hash)`; while one query is out, the
hashes asked for meanwhile wait and go together into the next (up to MAX_BATCH). The callers remember what
they learn (service/auth.py), good tokens and unknown ones alike, so a token asked for again soon costs
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import islice

from sqlalchemy.ext.asyncio import async_sessionmaker

from service.tokens.service import Principal, principals_for
from service.transactions import unit


class TokenLookups:
    MAX_BATCH = 500

    def __init__(self, sessions: Callable[[], async_sessionmaker]) -> None:
        self.sessions = sessions  # asked at each query: the app's session factory may be replaced (tests)
        self._waiting: dict[str, asyncio.Future] = {}
        self._worker: asyncio.Task | None = None
        self.queries = 0  # how many times the database was asked (operations, tests)

    async def find(self, token_hash: str) -> Principal | None:
        """The live token with this hash, or None. Raises what the database raised (unreachable, busy)."""
        future = self._waiting.get(token_hash)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            # Its outcome is read even when every waiter gave up (cancelled), so no "never retrieved" warning.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._waiting[token_hash] = future
            if self._worker is None or self._worker.done():
                self._worker = asyncio.get_running_loop().create_task(self._drain())
        # Shielded: a request cancelled while it waits must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._waiting:
            batch = dict(islice(self._waiting.items(), self.MAX_BATCH))
            for token_hash in batch:
                del self._waiting[token_hash]
            self.queries += 1
            try:
                async with unit(self.sessions()) as session:  # committed: the last-use stamps
                    found = await principals_for(session, list(batch))
            except Exception as exc:  # noqa: BLE001 - each waiting request gets the failure, as if it had asked
                for future in batch.values():
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutdown): nobody is left waiting for ever
                for future in batch.values():
                    future.cancel()
                raise
            for token_hash, future in batch.items():
                if not future.done():
                    future.set_result(found.get(token_hash))
