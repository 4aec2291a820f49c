"""The `homecare` command line, in-process on a scratch SQLite database."""

from __future__ import annotations

import json

from homecare_cli.main import app
from service.db import utcnow
from service.months import month_of, next_month, previous_month
from service.settings import get_settings


def this_month() -> str:
    return month_of(utcnow(), get_settings().tz)


def test_token_create_prints_only_the_token(cli):
    result = cli.invoke(app, ["token", "create", "--role", "operator", "--name", "seat-12"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("hc_") and len(result.stdout.strip().splitlines()) == 1


def test_token_create_refuses_bad_bindings(cli):
    for args in (
        ["--role", "provider", "--name", "x"],
        ["--role", "regulator", "--name", "x"],
        ["--role", "wizard", "--name", "x"],
        ["--role", "regulator", "--area", "999999", "--name", "x"],
        ["--role", "gateway", "--name", "x"],
        ["--role", "gateway", "--gateway", "999999", "--name", "x"],
        ["--role", "operator", "--gateway", "1", "--name", "x"],
    ):
        result = cli.invoke(app, ["token", "create", *args])
        assert result.exit_code == 2 and result.stdout == "", (args, result.output)


def test_seed_guandu_then_plan_a_month(cli):
    seeded = cli.invoke(app, ["seed", "guandu", "--elders", "120"])
    assert seeded.exit_code == 0, seeded.output
    again = cli.invoke(app, ["seed", "guandu", "--elders", "120"])
    assert again.exit_code == 0
    planned = cli.invoke(app, ["plan", "--month", this_month()])
    assert planned.exit_code == 0, planned.output
    summary = json.loads(planned.stdout)
    assert summary["elders_planned"] == 120 and summary["visits_assigned"] > 0
    assert cli.invoke(app, ["plan", "--month", "2026-13"]).exit_code == 2
    assert cli.invoke(app, ["seed", "atlantis"]).exit_code == 2


def test_plan_a_past_month_only_with_force(cli):
    past = previous_month(this_month())
    refused = cli.invoke(app, ["plan", "--month", past])
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"error: --month {past}: plans are made for the current month")
    assert "--force" in refused.stderr and len(refused.stderr.splitlines()) == 1
    too_far = cli.invoke(app, ["plan", "--month", next_month(next_month(this_month())), "--force"])
    assert too_far.exit_code == 2
    forced = cli.invoke(app, ["plan", "--month", past, "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["month"] == past


def test_seed_scale_writes_an_instance_the_solver_and_checker_accept(cli, tmp_path):
    instance, plan = tmp_path / "instance.json", tmp_path / "plan.json"
    written = cli.invoke(app, ["seed", "scale", "--elders", "500", "--providers", "8", "-o", str(instance)])
    assert written.exit_code == 0, written.output
    assert len(json.loads(instance.read_text())["elders"]) == 500
    solved = cli.invoke(app, ["dispatch", "solve", str(instance), "-o", str(plan)])
    assert solved.exit_code == 0, solved.output
    checked = cli.invoke(app, ["dispatch", "check", str(instance), str(plan)])
    assert checked.exit_code == 0, checked.output


def test_bad_settings_stop_with_a_message(cli, monkeypatch):
    monkeypatch.setenv("HOMECARE_GEOFENCE_M", "-1")
    get_settings.cache_clear()
    result = cli.invoke(app, ["migrate"])
    assert result.exit_code == 2 and "HOMECARE_GEOFENCE_M" in result.output


def test_scheduler_configures_logging_as_serve_does(cli, monkeypatch):
    import service.leader
    import service.ops

    calls = []
    monkeypatch.setenv("HOMECARE_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    monkeypatch.setattr(service.ops, "configure_logging", lambda level: calls.append(("logging", level)))

    async def run_scheduler_process(settings):
        calls.append(("scheduler", settings.log_level))

    monkeypatch.setattr(service.leader, "run_scheduler_process", run_scheduler_process)
    result = cli.invoke(app, ["scheduler"])
    assert result.exit_code == 0, result.output
    assert calls == [("logging", "WARNING"), ("scheduler", "WARNING")]


def test_the_server_image_runs_without_seed_and_providers(tmp_path):
    """The Dockerfile copies neither `seed` nor `providers`: every command but `seed` and `simulate` works
    without them, and those two say what is missing in one line."""
    import subprocess
    import sys

    script = """
import sys
sys.modules["seed"] = sys.modules["providers"] = None  # as if not installed
from homecare_cli.main import main
main()
"""
    env = {"PATH": "/usr/bin:/bin", "HOMECARE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
        )

    migrated = run("migrate")
    assert migrated.returncode == 0 and "newest schema" in migrated.stderr, migrated.stderr
    for command in (["seed", "guandu"], ["simulate", "--token", "x"]):
        refused = run(*command)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith("error: this installation has no `") and "Traceback" not in refused.stderr
