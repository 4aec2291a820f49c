"""The `homecare` command line. Every command that touches the database migrates it first."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from homecare_cli.bootstrap import admin_app, areas_app
from homecare_cli.context import load_settings, migrate_database, migrate_when_reachable, with_sessions
from homecare_cli.engine import dispatch_app
from homecare_cli.report import report
from homecare_cli.simulate import simulate
from homecare_cli.tokens import token_app
from homecare_cli.users import user_app

# What the server image (Dockerfile) leaves out: `homecare seed` and `homecare simulate` import them when they
# run, so every other command works without them.
NOT_IN_THE_IMAGE = ("seed", "providers")

# No pretty tracebacks: typer's show every frame's local variables, which are elders' records.
app = typer.Typer(
    help="homecare-dispatch: home-care dispatch and supervision service",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(token_app, name="token")
app.add_typer(dispatch_app, name="dispatch")
app.add_typer(areas_app, name="areas")
app.add_typer(admin_app, name="admin")
app.add_typer(user_app, name="user")
# The provider's side of the wire: it speaks only HTTP to a running service, like a provider's app.
app.command()(simulate)
# The regulator's monthly summary written to a file, as the API would serve it.
app.command()(report)


def main() -> None:
    """The `homecare` command: a failure is one line on stderr and exit status 1, never a traceback, which
    would show the data the command was working on (service/redaction.py says what the line keeps)."""
    from service.redaction import describe, install_log_redaction, is_unreachable_database

    install_log_redaction()  # what a command logs (a plan's failure, say) is told without data too
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - whatever failed; SystemExit (typer's exits, usage errors) passes
        missing = (exc.name or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else None
        if missing in NOT_IN_THE_IMAGE:
            typer.echo(
                f"error: this installation has no `{missing}` package (the server image ships without it); "
                "run this command from a checkout (make install)",
                err=True,
            )
            raise SystemExit(1) from None
        hint = " (is HOMECARE_DATABASE_URL right, and the database up?)" if is_unreachable_database(exc) else ""
        typer.echo(f"error: {describe(exc)}{hint}", err=True)
        raise SystemExit(1) from None


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    migrate_database(load_settings())
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

    settings = load_settings()
    migrate_when_reachable(settings)
    run_scheduler = settings.scheduler_enabled and not no_scheduler

    class Announced(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)  # exits the process if the port cannot be had
            if self.started:  # listening: say where (the port the system chose, for --port 0)
                bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else port
                typer.echo(f"serving on http://{host}:{bound}")

    app = create_app(settings, run_scheduler=run_scheduler)
    Announced(server_config(app, settings, host=host, port=port)).run()


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

    migrate_database(load_settings())
    try:
        world = generate_world(scenario, elders, seed_number)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = with_sessions(lambda sessions: load_world(sessions, world, wipe=reset))
    typer.echo(
        f"{scenario}: {report.areas} areas, {report.providers} providers, {report.elders} elders "
        f"({report.elders_added} new) loaded in {report.seconds:.1f} s",
        err=True,
    )


@app.command()
def scheduler() -> None:
    """The production scheduler process (leader by PostgreSQL advisory lock); outlives database restarts
    and ends only on SIGTERM or SIGINT."""
    from service.leader import run_scheduler_process
    from service.ops import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)  # as `serve` does (in create_app): same format, APScheduler quieted
    migrate_when_reachable(settings)
    asyncio.run(run_scheduler_process(settings))


@app.command("scheduler-health")
def scheduler_health() -> None:
    """Exit 0 while the scheduler's heartbeat (HOMECARE_HEARTBEAT_PATH) is fresh, 1 when it is stale or
    missing: the compose file's health check. Prints the scheduler's state (leader, standby, reconnecting)."""
    from service.heartbeat import check

    settings = load_settings()
    if settings.heartbeat_path is None:
        typer.echo("error: HOMECARE_HEARTBEAT_PATH is not set, so no scheduler writes a heartbeat", err=True)
        raise typer.Exit(2)
    health = check(settings.heartbeat_path, settings.heartbeat_s)
    typer.echo(health.message, err=not health.healthy)
    raise typer.Exit(0 if health.healthy else 1)


@app.command()
def plan(
    month: Annotated[str, typer.Option(help="YYYY-MM (Asia/Shanghai): the current or the next month")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Plan a month already past (audited); its offers go to the providers' apps at once"
        ),
    ] = False,
) -> None:
    """Build and assign a month's plan now; prints its summary as JSON."""
    import json

    from service.db import utcnow
    from service.dispatching.plans import check_plannable, run_plan
    from service.errors import Invalid
    from service.validation import is_month

    if not is_month(month):
        typer.echo("error: --month must be YYYY-MM", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    try:
        forced = check_plannable(month, now=utcnow(), tz=settings.tz, force=force, how_to_force="--force")
    except Invalid as exc:
        typer.echo(f"error: --month {month}: {exc.errors[0]['reason']}", err=True)
        raise typer.Exit(2) from None
    migrate_database(settings)

    result = with_sessions(
        lambda sessions: run_plan(sessions, settings, month, actor="cli", forced_by="cli" if forced else None)
    )
    if result is None:
        typer.echo(f"a plan for {month} is already running", err=True)
        raise typer.Exit(1)
    if result.state == "failed":
        typer.echo(f"error: {result.error}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(result.summary, ensure_ascii=False, indent=2))
