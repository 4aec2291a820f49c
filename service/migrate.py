"""Bring a database to the newest schema with Alembic (never `create_all`)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("service") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str) -> None:
    """Synchronous (Alembic's env runs its own event loop): call it from a thread inside async code."""
    command.upgrade(alembic_config(database_url), "head")
