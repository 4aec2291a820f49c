"""Bring a database to the newest schema with Alembic (never `create_all`).

Every process that starts (`serve`, `scheduler`, the one-shot `migrate` of the compose file) migrates first,
so several may do it at once against a fresh database. On PostgreSQL the upgrade therefore runs under a
transaction-scoped advisory lock taken before Alembic reads the schema's version: the first process
migrates, the others wait for its commit, then find the database at the newest version and do nothing.
(Without it, two of three concurrent migrations of an empty database failed on tables created twice.)
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

# pg_advisory_xact_lock(space, key): the two-key form never meets the scheduler's one-key leader lock.
MIGRATION_LOCK = (0x4D494752, 0)  # "MIGR"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("service") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str) -> None:
    """Synchronous (Alembic's env runs its own event loop): call it from a thread inside async code."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        # The default database's folder (var/ or the user's data folder) on first use; a named database's
        # folder must exist already (settings refuse one that does not).
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")


def hold_migration_lock(connection: Connection) -> None:
    """Inside the migration's transaction, before Alembic reads the version: one migration at a time."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": MIGRATION_LOCK[0], "key": MIGRATION_LOCK[1]}
        )
