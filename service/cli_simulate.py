"""`homecare simulate`: play one provider's caregivers through a month against a running service.

It is the provider's side of the wire, so it imports only `providers` and talks HTTP to the
service like any provider's app; it needs a provider token (HOMECARE_TOKEN or --token) and no
database settings. `service/cli.py` registers it as `homecare simulate`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from providers import FieldSimulator, ProviderApiError, ProviderClient, roster_for
from providers.months import check_month

NO_TOKEN = ("a provider token is needed: --token or HOMECARE_TOKEN "
            "(make one with: homecare token create --role provider --provider ID --name simulator)")


def simulate(
    provider: Annotated[int, typer.Option(help="The provider id the token belongs to (names its caregivers)")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM in Asia/Shanghai; default: this month")] = None,
    base_url: Annotated[str, typer.Option(help="Where the service runs")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="HOMECARE_TOKEN", show_default=False,
                                              help="The provider's API token")] = None,
    speed: Annotated[float, typer.Option(help="Field seconds per real second in the replay; 0 = no waiting")] = 86400,
    seed: Annotated[int, typer.Option(help="Same seed, same month")] = 2026,
    caregivers: Annotated[int, typer.Option(min=1, max=200, help="Caregivers on the roster")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only the summary")] = False,
) -> None:
    """Pull offers, accept most, and make the visits: some short, some off-site, some uploaded late."""
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
            simulator = FieldSimulator(client, roster_for(provider, caregivers), month=month, seed=seed + provider,
                                       speed=speed, narrate=None if quiet else typer.echo)
            return await simulator.run()

    try:
        report = asyncio.run(run())
    except ProviderApiError as exc:
        typer.echo(f"the service refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"provider {provider}, " + "\n".join(report.lines()))
    if report.aborted:
        raise typer.Exit(1)

