from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings


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


def test_defaults(monkeypatch):
    monkeypatch.delenv("HOMECARE_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///./var/homecare.db"
    assert settings.timezone == "Asia/Shanghai" and settings.geofence_m == 300
