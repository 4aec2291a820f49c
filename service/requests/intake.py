"""Registering an operator's request (受理): the call centre's hot path, in one statement on PostgreSQL.

Everything a create does — take the Idempotency-Key, check the elder, insert the request and its audit
event, store the key's answer — is one SQL statement of data-modifying CTEs, sent in one round trip on
the driver's own connection (taken from the engine's pool) and atomic as any single statement is: a
create is either wholly written or not at all, and there is no moment in which a key is taken but its
answer not yet stored. Through the ORM the same work cost eight round trips and five times the CPU
(README, § The workflow under load). A twin request with the same key while the first is in flight
finds the key's transaction-scoped advisory lock taken and gets 409, as the contract asks; once the
first has committed, a twin is answered with its stored response.

The answer is rendered before the database assigns the request's id: the statement writes the id into
the answer's first member, and so does the caller into the bytes it sends, so the stored answer and the
one sent are the same. The router wakes the dispatcher once the statement has committed (wakeup.py).

SQLite (the embedded set-up) has no data-modifying CTEs; there the create runs through the ORM
(`service.create_request` inside `Idempotency.run`). Both paths build the row, the answer and the audit
event with the same functions, and the whole test suite runs on both databases.
"""

from __future__ import annotations

import json

from fastapi.datastructures import State
from fastapi.responses import Response

from service.db import driver_connection, utcnow
from service.idempotency.service import (
    KEY_LOCK_SPACE,
    Idempotency,
    find_record,
    fingerprint,
    key_lock,
    response_adapter,
    settle,
    still_running,
)
from service.items.service import refuse_item
from service.lifecycle.models import ServiceRequest
from service.requests import service
from service.requests.schemas import RequestCreate, RequestDetail
from service.tokens.service import Principal
from service.transactions import unit

_ID_PLACEHOLDER = b'{"id":0'
# A key's record may vanish between the statement and the look at it (released by a failed twin,
# forgotten): the create is tried again, a few times at most.
ATTEMPTS = 3

# What each column of the new request holds in the statement, in the table's own order. Every column of the
# model must be named (a KeyError at import otherwise; tests/service/test_intake.py checks both ways), so
# that a column added to the model cannot go silently unwritten on PostgreSQL while the ORM path on SQLite
# writes it.
_HELD_BY = {
    "id": "new.id",
    "elder_id": "$2",
    "service": "$9",
    "item": "$20",
    "urgency": "$10",
    "kind": "$11",
    "channel": "$12",
    "status": "$13",
    "month": "$14",
    "seq": "NULL",
    "window_start": "$15",
    "window_end": "$16",
    "planned_date": "NULL",
    "note": "$17",
    "attempts": "0",
    "cancel_reason": "NULL",
    "explanation": "NULL",
    "alert_kind": "NULL",
    "alert_lat": "NULL",
    "alert_lon": "NULL",
    "escalated_at": "NULL",
    "created_by": "$18",
    "created_at": "$8",
    "updated_at": "$8",
}
REQUEST_VALUES = {column.name: _HELD_BY[column.name] for column in ServiceRequest.__table__.columns}

CREATE = f"""
WITH free AS (
    SELECT CASE WHEN $1::int4 IS NULL THEN true
                ELSE pg_try_advisory_xact_lock({KEY_LOCK_SPACE}, $1::int4) END AS free
), elder AS (
    SELECT status FROM elder WHERE id = $2
), item AS (
    SELECT help FROM catalogue_item WHERE code = $20 LIMIT 1
), new AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('service_request', 'id')) AS id
    FROM free, elder, item WHERE free.free AND elder.status <> ALL($3::text[]) AND item.help = $9
), claim AS (
    INSERT INTO idempotency_record (principal, key, fingerprint, state, status_code, response, created_at)
    SELECT $4, $5, $6, 'done', 201, ('{{"id":' || new.id || $7::text)::json, $8
    FROM new WHERE $5::varchar IS NOT NULL
    ON CONFLICT (principal, key) DO NOTHING
    RETURNING 1
), created AS (
    INSERT INTO service_request ({", ".join(REQUEST_VALUES)})
    SELECT {", ".join(REQUEST_VALUES.values())}
    FROM new WHERE $5::varchar IS NULL OR EXISTS (SELECT FROM claim)
    RETURNING id
), audited AS (
    INSERT INTO audit_event (at, actor, action, entity, entity_id, after)
    SELECT $8, $18, 'request.create', 'service_request', created.id::text, $19::json FROM created
)
SELECT (SELECT free FROM free) AS free, (SELECT status FROM elder) AS elder_status,
       (SELECT help FROM item) AS item_help, (SELECT id FROM created) AS id
"""


async def register(
    state: State, data: RequestCreate, principal: Principal, key: str | None, route: str
) -> tuple[Response, bool]:
    """Create the request (or replay the key's first answer); (response, whether a request was created)."""
    if state.settings.is_sqlite:
        return await _register_through_the_orm(state, data, principal, key, route)
    for _ in range(ATTEMPTS):
        answer = await _register_in_one_statement(state, data, principal, key, route)
        if answer is not None:
            return answer
    raise still_running()


async def _register_through_the_orm(
    state: State, data: RequestCreate, principal: Principal, key: str | None, route: str
) -> tuple[Response, bool]:
    created = False  # a replayed answer has nothing new to dispatch

    async with unit(state.sessions) as session:  # committed here, before the router wakes the dispatcher

        async def create():
            nonlocal created
            row = await service.create_request(session, data, principal, state.settings)
            created = True
            return service.new_request_detail(row.model_dump())

        response = await Idempotency(route, session, principal.token_id, key).run(data, create, RequestDetail)
    return response, created


async def _register_in_one_statement(
    state: State, data: RequestCreate, principal: Principal, key: str | None, route: str
) -> tuple[Response, bool] | None:
    """None when the statement lost a race it cannot tell apart from the state it left (try again)."""
    owner = str(principal.token_id)
    asked = None if key is None else fingerprint(route, data)
    async with driver_connection(state.engine) as driver:
        # Stamped once a connection is ours: under load a request may wait for one, and its created_at is
        # when it was registered, not when it queued.
        values = service.new_request_values(data, principal, state.settings, utcnow())
        rendered = response_adapter(RequestDetail).dump_json(service.new_request_detail({**values, "id": 0}))
        if not rendered.startswith(_ID_PLACEHOLDER):
            raise AssertionError("a request's answer must begin with its id")
        rest = rendered[len(_ID_PLACEHOLDER) :]
        row = await driver.fetchrow(
            CREATE,
            None if key is None else key_lock(owner, key),
            data.elder_id,
            list(service.UNSERVICEABLE),
            owner,
            key,
            asked,
            rest.decode(),
            values["created_at"],
            values["service"],
            values["urgency"],
            values["kind"],
            values["channel"],
            values["status"],
            values["month"],
            values["window_start"],
            values["window_end"],
            values["note"],
            values["created_by"],
            json.dumps(service.creation_audit(values)),
            values["item"],
        )
    if row["id"] is not None:
        return Response(b'{"id":%d' % row["id"] + rest, status_code=201, media_type="application/json"), True
    if key is not None:
        async with unit(state.sessions) as session:  # a deleted key is committed before the statement again
            existing = await find_record(session, owner, key)
            if existing is not None:
                replay = await settle(session, existing, asked)
                if replay is None:  # a key a dead request left running, now deleted: claim it again
                    return None
                return replay, False
        if not row["free"]:
            raise still_running()
    service.refuse_unserviceable(data.elder_id, row["elder_status"])
    refuse_item(values["item"], row["item_help"], values["service"])
    return None  # the key was taken by a twin that has since gone (released or forgotten): claim it again
