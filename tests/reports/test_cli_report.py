"""`homecare report`: the monthly summary written to a file, in-process on a scratch SQLite database."""

from __future__ import annotations

import asyncio
import json

import openpyxl
import pytest
from typer.testing import CliRunner

from homecare_cli.main import app as homecare
from service.areas.models import Area
from service.db import make_engine, make_sessionmaker
from service.migrate import migrate
from service.settings import get_settings
from tests.conftest import AREAS
from tests.reports.month import MONTH, build_october


async def _october(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add_all(Area(code=c, name=n, level=lvl, parent_code=p) for c, n, lvl, p in AREAS)
        await session.commit()
    await build_october(sessions)
    await engine.dispose()


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("HOMECARE_DATABASE_URL", url)
    get_settings.cache_clear()
    migrate(url)
    asyncio.run(_october(url))
    yield CliRunner()
    get_settings.cache_clear()


def test_report_writes_each_format(cli, tmp_path):
    for fmt in ("json", "csv", "xlsx", "pdf"):
        output = tmp_path / f"guandu.{fmt}"
        result = cli.invoke(
            homecare, ["report", "--month", MONTH, "--area", "530111", "--format", fmt, "-o", str(output)]
        )
        assert result.exit_code == 0, result.output
        assert output.stat().st_size > 0 and "sha256" in result.stderr
    summary = json.loads((tmp_path / "guandu.json").read_text(encoding="utf-8"))
    assert summary["elders"] == {"entitled": 4, "served": 1, "coverage_rate": 0.25}
    assert (tmp_path / "guandu.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (tmp_path / "guandu.pdf").read_bytes().startswith(b"%PDF")
    book = openpyxl.load_workbook(tmp_path / "guandu.xlsx")
    assert book["封面"]["B6"].value == summary["sha256"]


def test_report_refuses_bad_arguments(cli, tmp_path):
    output = str(tmp_path / "x")
    for args in (
        ["--month", "2026-13", "--area", "530111"],
        ["--month", MONTH, "--area", "53"],
        ["--month", MONTH, "--area", "999999"],
        ["--month", MONTH, "--area", "530111", "--format", "doc"],
        ["--month", "2099-01", "--area", "530111"],
    ):
        result = cli.invoke(homecare, ["report", *args, "-o", output])
        assert result.exit_code == 2 and "error" in result.stderr, (args, result.output)
