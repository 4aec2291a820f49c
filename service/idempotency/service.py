"""Idempotency-Key for creating POSTs (docs/api.md § Conventions).

The same key with the same body replays the first response byte for byte; with another body it is
422; while the first request with that key is still running it is 409 on PostgreSQL (on SQLite a twin
waits its turn behind the write lock, then gets the replay).

The key, the work and the key's stored answer commit together, in one transaction: there is no moment in
which a key is taken but its answer missing, so a request that dies half-way (its process killed, its
connection lost) leaves nothing behind, and its retry runs at once, once. Whether a twin is still running
is the database's to say, and it forgets by itself when the transaction dies:

- PostgreSQL: the transaction first takes the key's transaction-scoped advisory lock (the one the
  operators' one-statement create in requests/intake.py takes); a twin that finds it taken gets 409.
  The server releases it when the transaction ends: commit, rollback, or its client gone.
- SQLite: every transaction takes the database's write lock first (BEGIN IMMEDIATE); a twin waits for
  the first to end, then finds its answer. The OS drops the lock of a killed process.

Keys in state "running" were written by the earlier two-step claim (claimed in a transaction of their
own, finished in another) and only a dead request leaves one behind: they are taken as abandoned.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import delete, insert, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import AnyRole
from service.db import utcnow
from service.deps import SessionDep
from service.errors import Conflict, Invalid
from service.idempotency.models import IdempotencyRecord
from service.validation import Text

# Clients retry within minutes, an offline phone within a day or two: keys are kept this long.
KEPT_FOR = timedelta(days=7)
# pg_try_advisory_xact_lock(space, key): the two-key form never meets the scheduler's one-key leader lock.
KEY_LOCK_SPACE = 0x4B455953  # "KEYS"

IdempotencyKeyHeader = Annotated[
    Text | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe key: the same key and body replay the first response",
    ),
]

# Built once on the table (not the ORM entity): the ORM's per-call statement building costs more.
_STORE = insert(IdempotencyRecord.__table__)
_TAKE_LOCK = text("SELECT pg_try_advisory_xact_lock(:space, :key)")


def key_lock(principal: str, key: str) -> int:
    """The advisory lock a key's request holds while it runs: a signed 32-bit digest of (token, key)."""
    digest = hashlib.sha256(f"{principal}\n{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def route_of(request: Request) -> str:
    return f"{request.method} {request.scope['path']}"  # the path as routed; building request.url costs more


def fingerprint(route: str, body: BaseModel | dict[str, Any]) -> str:
    """What a key's first request asked for: a retry with the same key must ask for the same."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    canonical = json.dumps([route, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_record(session: AsyncSession, principal: str, key: str) -> IdempotencyRecord | None:
    return (
        await session.exec(
            select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
        )
    ).first()


async def settle(session: AsyncSession, existing: IdempotencyRecord, fingerprint: str) -> JSONResponse | None:
    """The answer to a retry of a key already taken: the first response again, or 422 for another body.
    None for a key a dead request left "running": it is deleted (in the caller's transaction, which
    commits it), and the key may be taken afresh."""
    if existing.fingerprint != fingerprint:
        raise Invalid.field("Idempotency-Key", "was already used with a different request body")
    if existing.state == "running":
        await session.delete(existing)
        await session.flush()
        return None
    return JSONResponse(existing.response, status_code=existing.status_code)


def still_running() -> Conflict:
    return Conflict("a request with this Idempotency-Key is still being processed; retry shortly")


class Idempotency:
    def __init__(self, route: str, session: AsyncSession, principal_id: int, key: str | None) -> None:
        self._session = session
        self._principal = str(principal_id)
        self._key = key
        self._route = route

    async def run(
        self,
        body: BaseModel | dict[str, Any],
        action: Callable[[], Awaitable[Any]],
        response_model: Any,
        status_code: int | Callable[[], int] = 201,
    ) -> JSONResponse:
        """Run `action` once per key and answer with what it returns.

        The action leaves its work uncommitted (it may flush), as every service does; the key's answer is
        stored after it in the same transaction, which whoever opened it commits (the request's session
        dependency, service/deps.py), so work, key and answer land together or not at all. `status_code`
        may be a function, asked after the action, when the action decides it.
        """
        adapter = response_adapter(response_model)
        session = self._session
        if self._key is not None:
            asked = fingerprint(self._route, body)
            replay = await self._take(asked)
            if replay is not None:
                return replay  # nothing was written; the transaction's end frees the key's lock
        result = adapter.dump_python(await action(), mode="json")
        final = status_code() if callable(status_code) else status_code
        if self._key is not None:
            await session.exec(
                _STORE,
                params={
                    "principal": self._principal,
                    "key": self._key,
                    "fingerprint": asked,
                    "state": "done",
                    "status_code": final,
                    "response": result,
                    "created_at": utcnow(),
                },
            )
        return JSONResponse(result, status_code=final)

    async def _take(self, asked: str) -> JSONResponse | None:
        """Begin the transaction holding the key: the stored answer if there is one, else None (run it);
        409 while a twin holds it."""
        session = self._session
        if session.bind.dialect.name == "postgresql":
            held = await session.exec(
                _TAKE_LOCK, params={"space": KEY_LOCK_SPACE, "key": key_lock(self._principal, self._key)}
            )
            if not held.scalar_one():
                raise still_running()
        existing = await find_record(session, self._principal, self._key)
        return None if existing is None else await settle(session, existing, asked)


async def forget_old_keys(session: AsyncSession, *, now) -> int:
    result = await session.exec(
        delete(IdempotencyRecord)
        .where(col(IdempotencyRecord.created_at) < now - KEPT_FOR)
        .returning(IdempotencyRecord.id)
    )
    return len(result.all())


@functools.lru_cache(maxsize=64)
def response_adapter(response_model: Any) -> TypeAdapter:
    """Building a TypeAdapter compiles a validator and serializer: once per response model, not per call."""
    return TypeAdapter(response_model)


async def _idempotency(
    request: Request, session: SessionDep, principal: AnyRole, key: IdempotencyKeyHeader = None
) -> Idempotency:
    return Idempotency(route_of(request), session, principal.token_id, key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
