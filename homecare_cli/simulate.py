"""`homecare simulate`: play one provider's caregivers through a month against a running service.

It is the provider's side of the wire, so it imports only `providers` and talks HTTP to the
service like any provider's app; it needs a provider token (HOMECARE_TOKEN or --token) and no
database settings. `homecare_cli/main.py` registers it as `homecare simulate`. It imports `providers` only
when it runs: the server image ships without it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


class WrongToken(Exception):
    """The token is not the given provider's (or not a provider's at all)."""


NO_TOKEN = (
    "a provider token is needed: --token or HOMECARE_TOKEN "
    "(make one with: homecare token create --role provider --provider ID --name simulator)"
)


def simulate(
    provider: Annotated[
        int | None,
        typer.Option(
            help="The provider the token belongs to (names its caregivers); checked against the token, "
            "which decides when this is left out"
        ),
    ] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM in Asia/Shanghai; default: this month")] = None,
    base_url: Annotated[str, typer.Option(help="Where the service runs")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="HOMECARE_TOKEN", show_default=False, help="The provider's API token")
    ] = None,
    speed: Annotated[float, typer.Option(help="Field seconds per real second in the replay; 0 = no waiting")] = 86400,
    seed: Annotated[int, typer.Option(help="Same seed, same month")] = 2026,
    caregivers: Annotated[int, typer.Option(min=1, max=200, help="Caregivers on the roster")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only the summary")] = False,
) -> None:
    """Pull offers, accept most, and make the visits: some short, some off-site, some uploaded late."""
    from providers import FieldSimulator, ProviderApiError, ProviderClient, ServiceUnreachable, roster_for
    from providers.months import check_month

    if not token:
        raise typer.BadParameter(NO_TOKEN, param_hint="--token")
    if speed < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--speed")
    try:
        month = check_month(month) if month else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None

    async def run():
        async with ProviderClient(base_url, token) as client:
            me = await client.whoami()
            if me.role != "provider":
                raise WrongToken(f"the token is a {me.role} token ({me.name}); simulate needs a provider's")
            if provider is not None and provider != me.provider_id:
                raise WrongToken(f"the token belongs to provider {me.provider_id}, not --provider {provider}")
            simulator = FieldSimulator(
                client,
                roster_for(me.provider_id, caregivers),
                month=month,
                seed=seed + me.provider_id,
                speed=speed,
                narrate=None if quiet else typer.echo,
            )
            return me.provider_id, await simulator.run()

    try:
        provider_id, report = asyncio.run(run())
    except WrongToken as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ProviderApiError as exc:
        typer.echo(f"the service refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except ServiceUnreachable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"provider {provider_id}, " + "\n".join(report.lines()))
    if report.aborted:
        raise typer.Exit(1)
