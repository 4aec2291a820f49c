"""Idempotency-Key for creating POSTs (spec/api.md § Conventions).

The same key with the same body replays the first response byte for byte; with another body it is
422; while the first request with that key is still running it is 409. The key is claimed in its own
committed transaction (so a concurrent twin sees it and gets 409 rather than waiting); the response
is stored in the transaction that commits the work when the action leaves it open (else right after
it), and a failed first attempt releases the key so the client can retry. All of it goes through the
request's own session: a second connection would wait behind the first on SQLite's write lock.
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
from sqlalchemy import bindparam, delete, event, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import AnyRole
from service.db import utcnow
from service.deps import SessionDep
from service.errors import Conflict, Invalid
from service.idempotency.models import IdempotencyRecord
from service.validation import Text

# A claim whose request died (process killed mid-way) stops blocking the key after this long.
ABANDONED_AFTER = timedelta(minutes=2)
# Clients retry within minutes, an offline phone within a day or two: keys are kept this long.
KEPT_FOR = timedelta(days=7)

IdempotencyKeyHeader = Annotated[
    Text | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255,
           description="Retry-safe key: the same key and body replay the first response"),
]


# The two statements every keyed request runs, built once on the table (not the ORM entity): the ORM's
# per-call statement building, cache keys and session synchronisation cost more than the round trips.
_RECORDS = IdempotencyRecord.__table__
_CLAIM = insert(_RECORDS)
_FINISH = (
    update(_RECORDS)
    .where(_RECORDS.c.principal == bindparam("the_principal"), _RECORDS.c.key == bindparam("the_key"))
    .values(state="done", status_code=bindparam("the_status"),
            response=bindparam("the_response", type_=_RECORDS.c.response.type))
)


def route_of(request: Request) -> str:
    return f"{request.method} {request.scope['path']}"  # the path as routed; building request.url costs more


def fingerprint(route: str, body: BaseModel | dict[str, Any]) -> str:
    """What a key's first request asked for: a retry with the same key must ask for the same."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    canonical = json.dumps([route, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_record(session: AsyncSession, principal: str, key: str) -> IdempotencyRecord | None:
    return (await session.exec(select(IdempotencyRecord).where(
        IdempotencyRecord.principal == principal, IdempotencyRecord.key == key))).first()


async def settle(session: AsyncSession, existing: IdempotencyRecord, fingerprint: str) -> JSONResponse | None:
    """The answer to a retry of a key already taken: the first response again, 422 for another body,
    409 while the first request is still running; None once a claim was abandoned (it is deleted, and
    the key may be claimed afresh)."""
    if existing.fingerprint != fingerprint:
        raise Invalid.field("Idempotency-Key", "was already used with a different request body")
    if existing.state == "running":
        if utcnow() - existing.created_at > ABANDONED_AFTER:
            await session.delete(existing)
            await session.commit()
            return None
        raise still_running()
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
        self, body: BaseModel | dict[str, Any], action: Callable[[], Awaitable[Any]],
        response_model: Any, status_code: int | Callable[[], int] = 201,
    ) -> JSONResponse:
        """Run `action` once per key and answer with what it returns, committed.

        `status_code` may be a function, asked after the action, when the action decides it. An action may
        leave its work uncommitted: the key's answer is then stored in the same transaction as the work,
        so the work can never be committed under a key that still looks unfinished (and would run again
        once abandoned).
        """
        adapter = response_adapter(response_model)

        def final_status() -> int:
            return status_code() if callable(status_code) else status_code

        if self._key is None:
            result = adapter.dump_python(await action(), mode="json")
            await self._session.commit()
            return JSONResponse(result, status_code=final_status())
        replay = await self._claim(fingerprint(self._route, body))
        if replay is not None:
            return replay
        # An action that commits its own work (most but the requests') must not have its key freed if
        # storing the answer fails afterwards: a retry would run it a second time.
        committed = []
        sync_session = self._session.sync_session

        def _committed(_session) -> None:
            committed.append(True)

        event.listen(sync_session, "after_commit", _committed)
        try:
            result = adapter.dump_python(await action(), mode="json")
            final = final_status()
            await self._session.exec(_FINISH, params={"the_principal": self._principal, "the_key": self._key,
                                                      "the_status": final, "the_response": result})
            await self._session.commit()
        except BaseException:
            if committed:  # the work stands; the key stays "running" until it counts as abandoned
                await self._session.rollback()
            else:
                await self._release()
            raise
        finally:
            event.remove(sync_session, "after_commit", _committed)
        return JSONResponse(result, status_code=final)

    async def _claim(self, fingerprint: str) -> JSONResponse | None:
        session = self._session
        try:
            if session.bind.dialect.name == "postgresql" and not session.in_transaction():
                # A single INSERT needs no BEGIN and COMMIT round trips around it: let it commit itself.
                await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            await session.exec(_CLAIM, params={"principal": self._principal, "key": self._key,
                                               "fingerprint": fingerprint, "state": "running",
                                               "created_at": utcnow()})
            await session.commit()
            return None
        except IntegrityError:
            await session.rollback()
        existing = await find_record(session, self._principal, self._key)
        replay = None if existing is None else await settle(session, existing, fingerprint)
        if replay is None:  # released or abandoned between our insert and our read: claim again
            return await self._claim(fingerprint)
        return replay

    async def _release(self) -> None:
        await self._session.rollback()
        await self._session.exec(delete(IdempotencyRecord).where(
            IdempotencyRecord.principal == self._principal, IdempotencyRecord.key == self._key,
            IdempotencyRecord.state == "running"))
        await self._session.commit()


async def forget_old_keys(session: AsyncSession, *, now) -> int:
    result = await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - KEPT_FOR)
                                .returning(IdempotencyRecord.id))
    forgotten = len(result.all())
    await session.commit()
    return forgotten


@functools.lru_cache(maxsize=64)
def response_adapter(response_model: Any) -> TypeAdapter:
    """Building a TypeAdapter compiles a validator and serializer: once per response model, not per call."""
    return TypeAdapter(response_model)


async def _idempotency(request: Request, session: SessionDep, principal: AnyRole,
                       key: IdempotencyKeyHeader = None) -> Idempotency:
    return Idempotency(route_of(request), session, principal.token_id, key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
