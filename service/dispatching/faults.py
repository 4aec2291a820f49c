"""One bad row never stops dispatching: telling a row's own fault from the database being away, and
setting such a row aside where operators see it.

A request the dispatcher cannot work with (a month the calendar does not hold, an elder whose
services are not a list of service codes, a write the database refuses for this row alone) leaves
`open` for `unassignable`, the status operators already watch for "nobody can take this, a human
must act", with an explanation of kind "error" and the usual audit event; the dispatcher never
selects it again and goes on with the others. A database that is away, busy or shutting down is
nobody's row's fault: the work stops and the next tick or run does it again.

Logs name the row by id and the failure by its type, SQLSTATE and place in the code, never by the
exception's message: a driver's message can quote the row's values (names, ID numbers, addresses).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.service import record_change
from service.catalogue import SERVICES
from service.lifecycle.moves import move_request
from service.lifecycle.transitions import Move, RequestStatus
from service.months import check_month
from service.transactions import unit

log = logging.getLogger("homecare.faults")

# SQLSTATE classes that are never one row's fault: a database away, overloaded, failing over or shutting
# down (08 connection, 25 read-only transaction on a standby, 40 serialization/deadlock, 53 resources,
# 55 lock not available, 57 admin shutdown/cancel, 58 system I/O), or the code and schema themselves
# (0A not supported, 42 syntax/undefined/permission, F0 configuration, XX internal).
NOT_THE_ROWS = ("08", "25", "40", "53", "55", "57", "58", "0A", "42", "F0", "XX")
_NOT_THE_ROWS = (
    OSError,
    TimeoutError,
    sa.TimeoutError,
    sa.DisconnectionError,
    sa.OperationalError,
    sa.ProgrammingError,
    sa.PendingRollbackError,
    sa.ResourceClosedError,
)
_ROOT = Path(__file__).resolve().parents[2]


class BadRow(ValueError):
    """Data the dispatcher cannot work with, found by a check: `reason` a code, `detail` for operators
    (never the row's personal data)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def usable_month(month: str) -> str:
    try:
        check_month(month)
    except (ValueError, TypeError, OverflowError):
        raise BadRow("bad_month", f"month {str(month)[:7]!r} is not a calendar month dispatch can serve") from None
    return month


def _parsed(value):
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def elder_service_list(value) -> list[str]:
    """The elder's services (the JSON column, parsed or as text), main one first: a non-empty list of
    service codes."""
    value = _parsed(value)
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s in SERVICES for s in value):
        raise BadRow("bad_elder_services", "the elder's services are not a non-empty list of service codes")
    return value


def elder_services(value) -> frozenset[str]:
    return frozenset(elder_service_list(value))


def elder_weekdays(value) -> frozenset[int]:
    """The elder's preferred weekdays (JSON): a list of 0 (Monday) … 6, perhaps empty."""
    value = _parsed(value)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(type(d) is int and 0 <= d <= 6 for d in value):
        raise BadRow("bad_elder_weekdays", "the elder's preferred weekdays are not a list of 0 (Monday) to 6")
    return frozenset(value)


def sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "orig", None), "sqlstate", None)


def row_fault(exc: BaseException) -> bool:
    """True when the failure is the row's own (its data, a constraint, a trigger), False when the database
    is away or busy or the code is at fault: then nothing is set aside and the work is done again later."""
    if isinstance(exc, sa.InterfaceError):  # asyncpg's DataError (a value it cannot encode) is one: the row's
        orig = getattr(exc, "orig", None)
        return isinstance(orig, ValueError) or isinstance(getattr(orig, "__cause__", None), ValueError)
    if isinstance(exc, _NOT_THE_ROWS):
        return False
    if isinstance(exc, sa.DBAPIError):
        code = sqlstate(exc)
        return not (exc.connection_invalidated or (code and code[:2] in NOT_THE_ROWS))
    return True


def describe(exc: BaseException) -> str:
    """The failure in one line without its message: type, SQLSTATE, where it was raised."""
    if isinstance(exc, BadRow):
        return f"{exc.reason}: {exc.detail}"
    parts = [type(exc).__name__]
    if (code := sqlstate(exc)) is not None:
        parts.append(f"sqlstate {code}")
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    own = [f for f in frames if f.filename.startswith(str(_ROOT)) and "/.venv/" not in f.filename]
    if own or frames:
        frame = (own or frames)[-1]
        where = Path(frame.filename)
        where = where.relative_to(_ROOT) if where.is_relative_to(_ROOT) else where.name
        parts.append(f"at {where}:{frame.lineno}")
    return " ".join(parts)


def report(what: str, entity: str, entity_id, exc: BaseException) -> None:
    log.error("%s: %s %s failed and was set aside (%s)", what, entity, entity_id, describe(exc))


def error_explanation(exc: BaseException) -> dict:
    """What operators read at GET /requests/{id}/explanation about a request set aside."""
    if isinstance(exc, BadRow):
        return {"kind": "error", "reason": exc.reason, "detail": exc.detail}
    return {
        "kind": "error",
        "reason": "dispatch_failed",
        "detail": f"the dispatcher could not process this request ({type(exc).__name__}); "
        "correct its data and register it again",
    }


async def set_aside(
    session: AsyncSession,
    request_ids: Iterable[int],
    exc: BaseException,
    *,
    actor: str,
    now: datetime,
    only_from: frozenset[RequestStatus] = frozenset({RequestStatus.OPEN}),
) -> list[int]:
    """Move the requests to `unassignable` with an error explanation (and its audit event); the ids moved.
    `only_from`: the statuses it may leave (open, unless the caller knows it may have gone further)."""
    why = error_explanation(exc)
    return [
        r
        for r in request_ids
        if await move_request(session, r, Move.SET_ASIDE, actor=actor, now=now, only_from=only_from, explanation=why)
    ]


async def each_alone(
    sessions: async_sessionmaker,
    ids: Iterable,
    work: Callable[[AsyncSession, Any], Awaitable[Any]],
    *,
    job: str,
    entity: str,
    skip: set,
    mark: Callable[[AsyncSession, Any, BaseException], Awaitable[Any]] | None = None,
) -> int:
    """`work(session, id)` for each id, each in a transaction of its own (a unit); how many returned truthy.

    A row's own failure is rolled back, logged, marked (`mark(session, id, exc)`, e.g. its request set aside,
    and an audit event `job.row_failed`) and its id added to `skip`, which the job's later runs pass by; the
    other rows go on. A database that is away stops the run: it runs again later.
    """
    done = 0
    for row_id in ids:
        try:
            async with unit(sessions) as session:
                done += bool(await work(session, row_id))
        except Exception as exc:
            if not row_fault(exc):
                raise
            report(job, entity, row_id, exc)
            skip.add(row_id)
            await mark_failed(sessions, job, entity, row_id, exc, mark)
    return done


async def mark_failed(
    sessions: async_sessionmaker,
    job: str,
    entity: str,
    row_id,
    exc: BaseException,
    mark: Callable[[AsyncSession, Any, BaseException], Awaitable[Any]] | None = None,
) -> None:
    """Record a row's failure where it can be seen (`mark`, then an audit event), in its own transaction."""
    try:
        async with unit(sessions) as session:
            if mark is not None:
                await mark(session, row_id, exc)
            record_change(
                session,
                actor="scheduler",
                action="job.row_failed",
                entity=entity,
                entity_id=row_id,
                after={"job": job, "failure": describe(exc)},
            )
    except Exception as again:
        if not row_fault(again):
            raise
        log.error("%s: %s %s could not be marked as failed either (%s)", job, entity, row_id, describe(again))


async def in_groups(
    sessions: async_sessionmaker,
    items: Sequence[tuple[Any, Any]],
    write: Callable[[AsyncSession, Sequence[tuple[Any, Any]]], Awaitable[int]],
    *,
    per_transaction: int,
    what: str,
) -> tuple[int, list[tuple[Any, BaseException]]]:
    """`write(session, group)` for groups of (key, payload) items, a transaction each: the sum of what it
    returned, and the keys the database refused (to be set aside by the caller). A refused group is written
    again one item at a time; when every item of it is refused alone, the fault is not theirs: it raises."""
    total, refused = 0, []
    for start in range(0, len(items), per_transaction):
        group = items[start : start + per_transaction]
        try:
            total += await _write(sessions, group, write)
            continue
        except Exception as exc:
            if not row_fault(exc):
                raise
            failure = exc
        if len(group) == 1:
            refused.append((group[0][0], failure))
            continue
        log.warning("%s: %d items refused together (%s); one at a time", what, len(group), describe(failure))
        alone = []
        for item in group:
            try:
                total += await _write(sessions, [item], write)
            except Exception as exc:
                if not row_fault(exc):
                    raise
                alone.append((item[0], exc))
        if len(alone) == len(group):
            raise failure
        refused += alone
    return total, refused


async def _write(sessions: async_sessionmaker, group, write) -> int:
    async with unit(sessions) as session:
        return await write(session, group)
