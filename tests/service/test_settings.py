from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings, default_database_path


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"HOMECARE_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"HOMECARE_TIMEZONE": "Mars/Olympus"}, "timezone"),
        ({"HOMECARE_GEOFENCE_M": "-5"}, "geofence_m"),
        ({"HOMECARE_MAX_KM": "abc"}, "max_km"),
        ({"HOMECARE_OFFER_TIMEOUT_EMERGENCY_S": "90000"}, None),
    ],
)
def test_bad_settings_fail_at_start_naming_the_setting(monkeypatch, env, field):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    if field:
        assert field in {str(e["loc"][0]) for e in raised.value.errors()}


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("HOMECARE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # the default database does not depend on the current directory
    settings = Settings()
    checkout = Path(__file__).resolve().parents[2]
    assert settings.database_url == f"sqlite+aiosqlite:///{checkout}/var/homecare.db"
    assert settings.timezone == "Asia/Shanghai" and settings.geofence_m == 300


def test_outside_a_checkout_the_default_database_is_in_the_users_data_folder(monkeypatch, tmp_path):
    import service.settings

    monkeypatch.setattr(service.settings, "__file__", str(tmp_path / "site-packages" / "service" / "settings.py"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_database_path() == tmp_path / "data" / "homecare-dispatch" / "homecare.db"


def test_a_sqlite_database_in_a_missing_folder_stops_the_process(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/homecare.db")
    Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/homecare.db")  # an existing folder, a new file: fine
