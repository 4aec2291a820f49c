"""The README's settings table names every setting (service/settings.py), and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings() -> set[str]:
    """Variables of the Configuration table. A row may name several: `HOMECARE_VISIT_MINUTES` / `_TRAVEL_MINUTES`
    is HOMECARE_VISIT_MINUTES and HOMECARE_TRAVEL_MINUTES (a short name replaces as many trailing words)."""
    names = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `HOMECARE_"):
            continue
        first, *others = re.findall(r"`([A-Z_]+)`", line.split("|")[1])
        names.add(first)
        for short in others:
            words = short.strip("_").split("_")
            names.add("_".join(first.split("_")[: -len(words)] + words))
    return names


def test_every_setting_is_in_the_readme_table():
    settings = {f"HOMECARE_{name.upper()}" for name in Settings.model_fields}
    documented = documented_settings()
    assert settings - documented == set(), "add these to the README's Configuration table"
    assert documented - settings == set(), "the README's Configuration table names settings that do not exist"
