"""What every database command of the `homecare` CLI starts with: the settings (a bad one is a line naming
the variable and exit 2), the migration, and a fresh engine outside any web request."""

from __future__ import annotations

import asyncio

import typer


def load_settings():
    """The service's settings; a bad one is a line naming its variable, and exit status 2."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            reason = error["msg"].removeprefix("Value error, ")
            typer.echo(f"bad setting HOMECARE_{field.upper()}: {reason}", err=True)
        raise typer.Exit(2) from None


def migrate_database(settings) -> None:
    """Bring the database to the newest schema (under the migration's advisory lock on PostgreSQL)."""
    from service.migrate import migrate

    migrate(settings.database_url)


def migrate_when_reachable(settings) -> None:
    """Migrate, waiting for the database as long as it takes: a long-running service started with (or
    before) its database comes up once the database does, instead of exiting on the first refusal."""
    import time

    from service.errors import database_unavailable
    from service.leader import Backoff

    backoff = Backoff(first_s=0.5, cap_s=10.0)
    while True:
        try:
            migrate_database(settings)
            return
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            wait = backoff.next()
            typer.echo(f"database unreachable ({type(exc).__name__}); trying again in {wait:.1f} s", err=True)
            time.sleep(wait)


def with_sessions(work):
    """Run `work(sessions)` on a fresh engine, outside any web request."""
    from service.db import make_engine, make_sessionmaker

    async def runner():
        engine = make_engine(load_settings().database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(runner())


async def in_session(sessions, work):
    """`work(session)` in a transaction of its own, committed when it succeeds (services never commit)."""
    from service.transactions import unit

    async with unit(sessions) as session:
        return await work(session)


def run_refusing(work):
    """`work(session)` on the migrated database; a refusal (unknown provider, area, token) is exit 2."""
    from service.errors import DomainError

    migrate_database(load_settings())
    try:
        return with_sessions(lambda sessions: in_session(sessions, work))
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
