"""`homecare user create|demo`: console users from the shell."""

from __future__ import annotations

import re

from homecare_cli.main import app


def test_user_create_reads_the_password_from_stdin_and_refuses_bad_input(cli):
    made = cli.invoke(
        app, ["user", "create", "--username", "li", "--role", "operator", "--password-stdin"], input="long-enough-1\n"
    )
    assert made.exit_code == 0, made.output
    assert "long-enough-1" not in made.output
    for args, words in (
        (["--username", "li", "--role", "operator"], "username li is taken"),
        (["--username", "wu", "--role", "regulator"], "area_code"),
        (["--username", "wu", "--role", "provider"], "role"),
        (["--username", "wu", "--role", "admin"], "password"),
    ):
        password = "short\n" if words == "password" else "long-enough-1\n"
        refused = cli.invoke(app, ["user", "create", *args, "--password-stdin"], input=password)
        assert refused.exit_code == 2 and words in refused.output, (args, refused.output)


def test_user_demo_prints_three_users_and_new_passwords_each_time(cli):
    assert cli.invoke(app, ["seed", "guandu", "--elders", "10"]).exit_code == 0
    first = cli.invoke(app, ["user", "demo"])
    second = cli.invoke(app, ["user", "demo"])
    assert first.exit_code == second.exit_code == 0, first.output
    pairs = [dict(re.findall(r"(demo-\w+) / (\S+)", run.output)) for run in (first, second)]
    assert set(pairs[0]) == {"demo-admin", "demo-operator", "demo-regulator"}
    assert all(pairs[0][name] != pairs[1][name] for name in pairs[0])
