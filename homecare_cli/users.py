"""`homecare user create|demo`: console accounts from the shell (admins also make them on /console/admin/users)."""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Annotated

import typer

from homecare_cli.context import run_refusing

user_app = typer.Typer(help="Console users (operators, regulators, admins): create, demo", no_args_is_help=True)

# `make run`'s demo users: one per console role, the regulator's for Guandu district.
DEMO = (
    ("demo-admin", "演示管理员", "admin", None, None),
    ("demo-operator", "演示坐席", "operator", None, "六甲调度中心"),
    ("demo-regulator", "演示监管员", "regulator", "530111", None),
)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[str, typer.Option(help="admin | operator | regulator")],
    area: Annotated[str | None, typer.Option(help="Area code (role regulator)")] = None,
    centre: Annotated[str | None, typer.Option(help="Dispatch centre (role operator, optional)")] = None,
    name: Annotated[str | None, typer.Option(help="Name shown in the console")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create a console user; the password is asked for (or read from stdin), never given as an argument."""
    from service.users.service import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("password: ")
    user = run_refusing(
        lambda s: create_user(
            s,
            username=username,
            password=password,
            role=role,
            display_name=name,
            area_code=area,
            centre=centre,
            actor="cli",
        )
    )
    typer.echo(f"user {user.id} ({user.username}, {user.role}) created", err=True)


@user_app.command("demo")
def user_demo() -> None:
    """`make run`'s three console users, each with a new random password printed here: created when missing,
    their password reset (and sessions ended) when present."""
    from sqlmodel import select

    from service.users.models import UserAccount
    from service.users.service import create_user, reset_password

    async def issue(session):
        shown = []
        for username, display, role, area, centre in DEMO:
            password = secrets.token_urlsafe(9)
            row = (await session.exec(select(UserAccount).where(UserAccount.username == username))).first()
            if row is None:
                await create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    display_name=display,
                    area_code=area,
                    centre=centre,
                    actor="cli",
                )
            else:
                await reset_password(session, row.id, password, actor="cli")
            shown.append(f"{username} / {password}")
        return shown

    typer.echo("console users (username / password): " + "   ".join(run_refusing(issue)))
