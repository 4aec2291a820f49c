"""Bootstrapping a production database without the demo seed: `homecare areas import FILE` and
`homecare admin create` (README § Production)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from homecare_cli.context import in_session, load_settings, migrate_database, with_sessions

areas_app = typer.Typer(help="The administrative areas (行政区划)", no_args_is_help=True)
admin_app = typer.Typer(help="The first admin token of a new deployment", no_args_is_help=True)


@areas_app.command("import")
def areas_import(
    file: Annotated[str, typer.Argument(help="CSV (code,name,level,parent) or JSON list; - reads stdin")],
) -> None:
    """Add the real area codes from FILE; safe to run again (codes present are left as they are)."""
    from service.areas.importing import AreaFileError, import_areas, parse_areas

    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    name = "stdin" if file == "-" else file
    try:
        rows = parse_areas(data)
        migrate_database(load_settings())
        report = with_sessions(lambda sessions: in_session(sessions, lambda s: import_areas(s, rows)))
    except AreaFileError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {name}: {problem}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"areas: {report.read} read, {report.added} added, {report.renamed} renamed, {report.unchanged} unchanged",
        err=True,
    )


@admin_app.command("create")
def admin_create(
    name: Annotated[str, typer.Option(help="Who holds the token (shown in the audit log)")],
) -> None:
    """Create the deployment's first admin token and print it once on stdout.

    Refused when an admin token exists already, so a bootstrap script run twice does not mint a second
    one; more tokens: `homecare token create --role admin` (or the admin API).
    """
    from sqlmodel import select

    from service.tokens.models import ApiToken
    from service.tokens.service import create_token
    from service.transactions import unit

    async def first_admin(sessions) -> str | None:
        async with unit(sessions) as session:
            held = (
                await session.exec(
                    select(ApiToken.name).where(ApiToken.role == "admin", ApiToken.revoked_at.is_(None)).limit(1)
                )
            ).first()
            if held is not None:
                return None
            return await create_token(session, role="admin", name=name, actor="cli:admin-create")

    if not 0 < len(name.strip()) <= 100:
        typer.echo("error: --name: 1 to 100 characters", err=True)
        raise typer.Exit(2)
    migrate_database(load_settings())
    token = with_sessions(first_admin)
    if token is None:
        typer.echo("error: an admin token exists already; more with `homecare token create --role admin`", err=True)
        raise typer.Exit(1)
    sys.stdout.write(token + "\n")
