"""The `homecare` command line. Every command that touches the database migrates it first."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from service.cli_dispatch import dispatch_app
from service.cli_report import report
from service.cli_simulate import simulate

app = typer.Typer(help="homecare-dispatch: home-care dispatch and supervision service", no_args_is_help=True)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(dispatch_app, name="dispatch")
# The provider's side of the wire: it speaks only HTTP to a running service, like a provider's app.
app.command()(simulate)
# The regulator's monthly summary written to a file, as the API would serve it.
app.command()(report)


def _settings():
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"bad setting HOMECARE_{field.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _migrate(settings) -> None:
    from service.migrate import migrate

    migrate(settings.database_url)


def _with_sessions(work):
    """Run `work(sessions)` on a fresh engine, outside any web request."""
    from service.db import make_engine, make_sessionmaker

    async def runner():
        engine = make_engine(_settings().database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(runner())


async def _in_session(sessions, work):
    async with sessions() as session:
        return await work(session)


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    _migrate(_settings())
    typer.echo("database is at the newest schema", err=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Run no jobs (API replicas)")] = False,
) -> None:
    """Serve the API; with the scheduler in the same process unless --no-scheduler."""
    import uvicorn

    from service.app import create_app
    from service.serving import server_config

    settings = _settings()
    _migrate(settings)
    run_scheduler = settings.scheduler_enabled and not no_scheduler
    app = create_app(settings, run_scheduler=run_scheduler)
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


@app.command()
def seed(
    scenario: Annotated[str, typer.Argument(help="guandu | haikou | scale")],
    elders: Annotated[int | None, typer.Option(help="How many elders (default: the scenario's)")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Empty every table first")] = False,
    seed_number: Annotated[int, typer.Option("--seed", help="Same number, same data")] = 2026,
    providers: Annotated[int, typer.Option(help="scale: providers in the instance")] = 100,
    spare: Annotated[float, typer.Option(help="scale: spare quota, 0.1 = 10% more than the visits")] = 0.1,
    month: Annotated[str, typer.Option(help="scale: the instance's month")] = "2026-12",
    output: Annotated[str, typer.Option("-o", "--output", help="scale: instance file to write")] = "instance.json",
) -> None:
    """Load a district (guandu, haikou) into the database, or write a dispatch instance (scale)."""
    if scenario == "scale":
        from seed.scale import write_scale_instance

        write_scale_instance(output, elders or 300_000, providers, spare, seed_number, month)
        typer.echo(f"wrote {output}", err=True)
        return
    if scenario not in ("guandu", "haikou"):
        typer.echo("error: SCENARIO must be guandu, haikou or scale", err=True)
        raise typer.Exit(2)
    from seed.load import load_world
    from seed.world import generate_world

    _migrate(_settings())
    try:
        world = generate_world(scenario, elders, seed_number)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = _with_sessions(lambda sessions: load_world(sessions, world, wipe=reset))
    typer.echo(f"{scenario}: {report.areas} areas, {report.providers} providers, {report.elders} elders "
               f"loaded in {report.seconds:.1f} s", err=True)


@app.command()
def scheduler() -> None:
    """The production scheduler process (leader by PostgreSQL advisory lock)."""
    from service.leader import run_scheduler_process
    from service.ops import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)  # as `serve` does (in create_app): same format, APScheduler quieted
    _migrate(settings)
    asyncio.run(run_scheduler_process(settings))


@app.command()
def plan(month: Annotated[str, typer.Option(help="YYYY-MM (Asia/Shanghai)")]) -> None:
    """Build and assign a month's plan now; prints its summary as JSON."""
    import json

    from service.dispatching.plans import run_plan
    from service.months import is_month

    if not is_month(month):
        typer.echo("error: --month must be YYYY-MM", err=True)
        raise typer.Exit(2)
    settings = _settings()
    _migrate(settings)

    result = _with_sessions(lambda sessions: run_plan(sessions, settings, month, actor="cli"))
    if result is None:
        typer.echo(f"a plan for {month} is already running", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(result.summary, ensure_ascii=False, indent=2))


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin | operator | provider | regulator")],
    name: Annotated[str, typer.Option(help="Who holds the token (shown in the audit log)")],
    provider: Annotated[int | None, typer.Option(help="Provider id (role provider)")] = None,
    area: Annotated[str | None, typer.Option(help="Area code prefix (role regulator)")] = None,
) -> None:
    """Create a token and print it once on stdout (only its hash is stored)."""
    from service.errors import DomainError
    from service.tokens.service import create_token

    _migrate(_settings())
    try:
        token = _with_sessions(lambda sessions: _in_session(sessions, lambda s: create_token(
            s, role=role, name=name, provider_id=provider, area_code=area, actor="cli")))
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(token + "\n")
