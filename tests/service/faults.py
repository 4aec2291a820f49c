"""Poisoned rows written straight into the database, past the API's checks, as old or hand-edited data
can be; and a database that refuses some writes (a trigger), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib

from sqlalchemy import text, update

from service.elders.models import Elder
from service.lifecycle.models import ServiceRequest


async def poisoned_request(db, elder_id: int, **values) -> int:
    """A request written directly, e.g. with a month no calendar helper can read."""
    values = {
        "service": "emergency",
        "urgency": "emergency",
        "channel": "phone",
        "status": "open",
        "created_by": "test",
        **values,
    }
    async with db() as session:
        row = ServiceRequest(elder_id=elder_id, **values)
        session.add(row)
        await session.commit()
        return row.id


async def set_elder_services(db, elder_id: int, services) -> None:
    """`None` stores JSON null, as `PATCH {"services": null}` once did."""
    async with db() as session:
        await session.exec(update(Elder).where(Elder.id == elder_id).values(services=services))
        await session.commit()


@contextlib.asynccontextmanager
async def refusing(db, table: str, condition: str, on: str = "INSERT"):
    """While inside, the database refuses (a constraint violation) to INSERT/UPDATE/DELETE (`on`) each row
    of `table` for which `condition` holds (SQL on NEW, or OLD for DELETE)."""
    async with db() as session:
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            await connection.execute(
                text(
                    f"CREATE TRIGGER refuse_{table} BEFORE {on} ON {table} WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await connection.execute(
                text(
                    f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF {condition} THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; "
                    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
                )
            )
            await connection.execute(
                text(
                    f"CREATE TRIGGER refuse_{table} BEFORE {on} ON {table} FOR EACH ROW "
                    f"EXECUTE FUNCTION refuse_{table}()"
                )
            )
        await session.commit()
    try:
        yield
    finally:
        async with db() as session:
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                await connection.execute(text(f"DROP TRIGGER refuse_{table}"))
            else:
                await connection.execute(text(f"DROP TRIGGER refuse_{table} ON {table}"))
                await connection.execute(text(f"DROP FUNCTION refuse_{table}()"))
            await session.commit()
