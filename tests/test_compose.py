"""Docker is not on these machines, so this keeps docker-compose.yml honest against the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SETTING_VARS = {f"HOMECARE_{name.upper()}" for name in Settings.model_fields}


def test_services_and_health_checks():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "api", "scheduler"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pgdata" in services["postgres"]["volumes"][0] and "pgdata" in COMPOSE["volumes"]
    for name in ("api", "scheduler"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert "--no-scheduler" in services["api"]["command"] and services["scheduler"]["command"] == ["homecare", "scheduler"]


def test_environment_names_real_settings_with_valid_values():
    for name in ("api", "scheduler"):
        env = {k: str(v) for k, v in COMPOSE["services"][name]["environment"].items()}
        assert set(env) <= SETTING_VARS, set(env) - SETTING_VARS
        settings = Settings(**{k.removeprefix("HOMECARE_").lower(): v for k, v in env.items()})
        assert settings.database_url.startswith("postgresql+asyncpg://")
    postgres_env = COMPOSE["services"]["postgres"]["environment"]
    url = COMPOSE["services"]["api"]["environment"]["HOMECARE_DATABASE_URL"]
    assert f"{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}@postgres:5432/" in url
    assert url.endswith("/" + postgres_env["POSTGRES_DB"])


def test_cli_commands_in_compose_exist():
    from typer.main import get_command

    from service.cli import app

    commands = set(get_command(app).commands)
    for name in ("api", "scheduler"):
        assert COMPOSE["services"][name]["command"][1] in commands
