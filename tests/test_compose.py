"""Docker is not on these machines, so this keeps docker-compose.yml, the Dockerfile, .dockerignore and
.env.example honest against the code and against each other (tests/test_entrypoints.py runs the image's
commands as plain processes)."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RAW = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
SETTING_VARS = {f"HOMECARE_{name.upper()}" for name in Settings.model_fields}
APP_SERVICES = ("migrate", "api", "scheduler")
LONG_RUNNING = ("postgres", "api", "scheduler")
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


def interpolate(value, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} in every string of the parsed file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise ValueError(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(one, value)


def compose(env: dict[str, str]) -> dict:
    return interpolate(yaml.safe_load(RAW), env)


EXAMPLE = read_env_file(ROOT / ".env.example")
COMPOSE = compose({**EXAMPLE, "POSTGRES_PASSWORD": "0123456789abcdef"})  # what an operator's .env holds
SERVICES = COMPOSE["services"]


def test_services_start_in_order_and_come_back_after_a_crash():
    assert set(SERVICES) == {"postgres", "migrate", "api", "scheduler"}
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert "pgdata" in SERVICES["postgres"]["volumes"][0] and "pgdata" in COMPOSE["volumes"]
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "scheduler"):
        assert SERVICES[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"  # one-shot: its success lets the others start
    assert SERVICES["scheduler"]["deploy"]["replicas"] == 2
    assert "--no-scheduler" in SERVICES["api"]["command"]
    assert SERVICES["scheduler"]["command"] == ["homecare", "scheduler"]
    assert SERVICES["migrate"]["command"] == ["homecare", "migrate"]


def test_one_image_built_once_and_never_pulled():
    built = [name for name in SERVICES if "build" in SERVICES[name]]
    assert built == ["migrate"] and SERVICES["migrate"]["pull_policy"] == "build"
    assert {SERVICES[name]["image"] for name in APP_SERVICES} == {"homecare:latest"}
    for name in ("api", "scheduler"):
        assert SERVICES[name]["pull_policy"] == "never"


def test_the_scheduler_is_checked_by_its_heartbeat():
    scheduler = SERVICES["scheduler"]
    assert scheduler["healthcheck"]["test"] == ["CMD", "homecare", "scheduler-health"]
    path = Path(scheduler["environment"]["HOMECARE_HEARTBEAT_PATH"])
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    # The image's user owns the heartbeat's folder, and only it is the working directory's var/.
    assert path.parent == Path("/app/var") and re.search(r"chown homecare:homecare /app/var\b", dockerfile)
    assert re.search(r"^WORKDIR /app$", dockerfile, re.MULTILINE)
    assert re.search(r"^USER homecare$", dockerfile, re.MULTILINE)
    interval_s = int(scheduler["healthcheck"]["interval"].removesuffix("s"))
    heartbeat_s = float(scheduler["environment"]["HOMECARE_HEARTBEAT_S"])
    assert heartbeat_s * 3 < interval_s * scheduler["healthcheck"]["retries"]


def test_environment_names_real_settings_with_valid_values():
    for name in APP_SERVICES:
        env = {k: str(v) for k, v in SERVICES[name]["environment"].items()}
        assert set(env) <= SETTING_VARS, set(env) - SETTING_VARS
        settings = Settings(**{k.removeprefix("HOMECARE_").lower(): v for k, v in env.items()})
        assert settings.database_url.startswith("postgresql+asyncpg://")
    postgres_env = SERVICES["postgres"]["environment"]
    url = SERVICES["api"]["environment"]["HOMECARE_DATABASE_URL"]
    assert f"{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}@postgres:5432/" in url
    assert url.endswith("/" + postgres_env["POSTGRES_DB"])
    assert SERVICES["api"]["environment"]["HOMECARE_SCHEDULER_ENABLED"] == "false"


def test_no_password_is_written_in_the_compose_file():
    raw = yaml.safe_load(RAW)["services"]
    assert raw["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert not re.search(r"postgresql\+asyncpg://[^$/]*:[^$@]*@", RAW)  # no user:password@ literal
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):  # the example as it stands: refused
        compose(EXAMPLE)


def test_env_example_documents_every_variable_and_env_stays_private():
    used = {match["name"] for match in _VARIABLE.finditer(RAW)}
    assert used == set(EXAMPLE), used ^ set(EXAMPLE)
    assert EXAMPLE["POSTGRES_PASSWORD"] == ""  # no default password to forget to change
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    tracked = subprocess.run(["git", "ls-files", ".env"], check=False, cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked.strip() == ""


def dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        parts = Path(path).parts
        if any(
            fnmatch.fnmatch("/".join(parts[:n]), pattern) or fnmatch.fnmatch(parts[n - 1], pattern)
            for n in range(1, len(parts) + 1)
        ):
            ignored = not negated
    return ignored


def test_the_build_context_leaves_out_the_venv_and_secrets_but_not_what_the_image_needs():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (
        ".venv/lib/python3.11/site-packages/numpy/__init__.py",
        ".git/HEAD",
        ".env",
        "var/homecare.db",
        "service/__pycache__/app.cpython-311.pyc",
    ):
        assert dockerignored(path, patterns), path
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    for source in (s for line in copied for s in line.split()):
        assert (ROOT / source).exists() and not dockerignored(source, patterns), source
    assert not dockerignored(".env.example", patterns)


def test_cli_commands_in_compose_exist():
    from typer.main import get_command

    from homecare_cli.main import app

    commands = set(get_command(app).commands)
    for name in APP_SERVICES:
        assert SERVICES[name]["command"][1] in commands
    assert SERVICES["scheduler"]["healthcheck"]["test"][2] in commands


def test_the_image_holds_the_server_and_its_command_only():
    """docs/design.md: service, dispatch and homecare_cli; the seed data and the provider's simulator stay out
    (tests/service/test_cli.py runs the command without them)."""
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    packages = {s for line in copied for s in line.split() if (ROOT / s).is_dir()}
    assert packages == {"service", "dispatch", "homecare_cli"}
