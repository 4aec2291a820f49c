"""Alembic environment: migrates whichever database the caller names (settings by default)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import service.models  # noqa: F401  (registers every table on the metadata)
from service.migrate import hold_migration_lock
from service.models import metadata
from service.settings import get_settings

config = context.config


def _database_url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
        compare_type=True,
    )
    with context.begin_transaction():
        hold_migration_lock(connection)  # concurrent migrations of one database run one after the other
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_database_url(), hide_parameters=True)  # no data in errors
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
