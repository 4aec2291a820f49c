"""`homecare token create|list|revoke|demo`: the token register from the shell (the admin API has the same:
GET/POST /api/v1/tokens, POST /api/v1/tokens/{id}/revoke). A token's value is printed once, at creation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from homecare_cli.context import run_refusing

token_app = typer.Typer(help="API tokens: create, list, revoke", no_args_is_help=True)

# `make run`'s tokens: one per role, the provider's for provider 1 and the regulator's for Guandu district.
DEMO = (
    ("ADMIN", "admin", "demo-admin", None, None),
    ("OPERATOR", "operator", "demo-operator", None, None),
    ("PROVIDER", "provider", "demo-provider-1", 1, None),
    ("REGULATOR", "regulator", "demo-regulator", None, "530111"),
)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin | operator | provider | regulator | gateway")],
    name: Annotated[str, typer.Option(help="Who holds the token (shown in the audit log)")],
    provider: Annotated[int | None, typer.Option(help="Provider id (role provider)")] = None,
    area: Annotated[
        str | None,
        typer.Option(help="Area code prefix (role regulator; optional for an operator: a street's or district's seat)"),
    ] = None,
    gateway: Annotated[int | None, typer.Option(help="Device gateway id (role gateway)")] = None,
) -> None:
    """Create a token and print it once on stdout (only its hash is stored)."""
    from service.tokens.service import create_token

    token = run_refusing(
        lambda s: create_token(
            s, role=role, name=name, provider_id=provider, area_code=area, actor="cli", gateway_id=gateway
        )
    )
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(
    live: Annotated[bool, typer.Option("--live", help="Only tokens not revoked")] = False,
) -> None:
    """Every token: id, name, role, binding, created, last used, revoked. Never a token's value."""
    from service.tokens.service import list_tokens

    async def everything(session):
        rows, after = [], None
        while True:
            page = await list_tokens(session, after=after, limit=500, revoked=False if live else None)
            rows.extend(page[:500])
            if len(page) <= 500:
                return rows
            after = page[499].id

    def when(moment) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"

    typer.echo(f"{'id':>5}  {'name':<24} {'role':<9} {'binding':<16} {'created':<16}  {'last used':<16}  revoked")
    for row in run_refusing(everything):
        binding = (
            f"provider {row.provider_id}"
            if row.provider_id
            else f"area {row.area_code}"
            if row.area_code
            else f"gateway {row.gateway_id}"
            if row.gateway_id
            else "-"
        )
        typer.echo(
            f"{row.id:>5}  {row.name[:24]:<24} {row.role:<9} {binding:<16} {when(row.created_at):<16}  "
            f"{when(row.last_used_at):<16}  {when(row.revoked_at)}"
        )


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id (from `homecare token list`)")]) -> None:
    """Revoke a token: API processes stop accepting it within HOMECARE_TOKEN_CACHE_S seconds."""
    from service.tokens.service import revoke_token

    row = run_refusing(lambda s: revoke_token(s, token_id, actor="cli"))
    typer.echo(f"token {row.id} ({row.name}) revoked at {row.revoked_at:%Y-%m-%d %H:%M:%S} UTC", err=True)


@token_app.command("demo")
def token_demo() -> None:
    """`make run`'s four tokens, as one `export ADMIN=… OPERATOR=… PROVIDER=… REGULATOR=…` line to paste.
    The demo tokens of an earlier run are revoked, so running it again leaves one live set."""
    from service.tokens.service import check_binding, create_token, revoke_named

    async def issue(session):
        for _, role, _, provider, area in DEMO:  # all or none: provider 1 and Guandu must be loaded
            await check_binding(session, role=role, provider_id=provider, area_code=area)
        await revoke_named(session, [name for _, _, name, _, _ in DEMO], actor="cli")
        return [
            (var, await create_token(session, role=role, name=name, provider_id=provider, area_code=area, actor="cli"))
            for var, role, name, provider, area in DEMO
        ]

    sys.stdout.write("export " + " ".join(f"{var}={token}" for var, token in run_refusing(issue)) + "\n")
