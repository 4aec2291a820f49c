"""Bring a database to the newest schema with Alembic (never `create_all`)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url


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
