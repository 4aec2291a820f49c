"""No personal data in any log, nor in the command line's errors (service/redaction.py)."""

from __future__ import annotations

import logging
import sys

import httpx
import pytest
from sqlalchemy import text

from homecare_cli import main as cli
from seed.world import generate_world
from service.app import create_app
from service.elders.models import Elder
from service.redaction import describe, safe_traceback
from service.settings import get_settings
from tests.conftest import BACKENDS, PG_ADMIN_DSN

pytestmark = pytest.mark.asyncio

NAME, ID_NUMBER, PHONE = "张桂英", "530111194503150026", "13987654321"
ADDRESS = "关上街道关上社区 3栋2单元401"
PERSONAL = (NAME, ID_NUMBER, PHONE, ADDRESS, "3栋2单元")


def _assert_private(output: str) -> None:
    for value in PERSONAL:
        assert value not in output, value


async def test_a_failing_request_logs_no_personal_data(settings, db, caplog):
    """A database error quoting the row (PostgreSQL's `DETAIL: Failing row contains (…)`, SQLAlchemy's
    parameters) on a path carrying a phone number: the log names the route template and the error's
    class and SQLSTATE, never the data."""
    app = create_app(settings)

    @app.post("/probe/{phone}")
    async def probe(phone: str):
        async with app.state.sessions() as session:  # the area's level breaks a CHECK constraint
            await session.exec(
                text("INSERT INTO area (code, name, level) VALUES (:code, :name, 'household')"),
                params={"code": phone[:12], "name": f"{NAME} {ID_NUMBER} {ADDRESS}"},
            )

    caplog.set_level(logging.WARNING, logger="httpx")  # the test's own client logs the URL it asks for
    caplog.set_level(logging.INFO)  # (after: it sets the capturing handler's level too)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(f"/probe/{PHONE}")
    await app.state.engine.dispose()
    assert response.status_code == 500 and response.json()["detail"] == "internal error; the incident was logged"
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    _assert_private(logged)
    assert "unhandled error on POST /probe/{phone}" in logged and "IntegrityError" in logged
    assert '"route": "/probe/{phone}"' in logged  # the access log too
    assert "INSERT INTO area" in logged  # the statement, with placeholders, stays for whoever debugs


async def test_tracebacks_keep_class_statement_and_stack_but_no_message(db):
    async with db() as session:
        try:
            await session.exec(
                text("SELECT * FROM elder WHERE id_number = :n AND CAST(:n AS INTEGER) = 1"),
                params={"n": ID_NUMBER + "x"},
            )
            failure = None
        except Exception as exc:  # noqa: BLE001 - PostgreSQL: `invalid input syntax for type integer: "…"`
            failure = exc
    if failure is None:  # SQLite casts anything; a message quoting data all the same
        try:
            raise ValueError(f"bad value {ID_NUMBER}")
        except ValueError as exc:
            failure = exc
    rendered = safe_traceback(failure)
    assert ID_NUMBER not in rendered and "Traceback (most recent call last)" in rendered
    assert "test_private_logs.py" in rendered and type(failure).__name__ in rendered
    assert ID_NUMBER not in describe(failure)


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["homecare", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


async def test_a_database_error_in_the_cli_is_one_line_without_data(database_url, db, monkeypatch, capsys):
    """A seed whose elder clashes with a row already there (here: a one-touch device id) fails with one
    line naming the error's class, not 600 lines of traceback with names and ID numbers."""
    world = generate_world("guandu", elders=40, seed=2026)
    clash = next(e for e in world.elders if e.device_id)
    async with db() as session:
        session.add(
            Elder(
                name=NAME,
                id_number=ID_NUMBER,
                phone=PHONE,
                address=ADDRESS,
                lat=25.02,
                lon=102.74,
                area_code="530111001001",
                device_id=clash.device_id,
            )
        )
        await session.commit()
    monkeypatch.setenv("HOMECARE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        code, out, err = await _in_thread(_run_cli, monkeypatch, capsys, "seed", "guandu", "--elders", "40")
    finally:
        get_settings.cache_clear()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: IntegrityError"), err
    _assert_private(err)
    for elder in world.elders:
        assert elder.id_number not in err and elder.name not in err and elder.phone not in err


@pytest.mark.parametrize(
    ("backend", "why"), [("sqlite", "file is not a database"), ("postgresql", "does not exist (SQLSTATE 3D000)")]
)
async def test_an_unreachable_database_is_one_line_saying_why(monkeypatch, capsys, tmp_path, backend, why):
    if backend not in BACKENDS:
        pytest.skip(f"{backend} is not among HOMECARE_TEST_BACKENDS")
    if backend == "sqlite":
        not_a_database = tmp_path / "homecare.db"
        not_a_database.write_text("these are not the pages of a SQLite database\n" * 100)
        url = f"sqlite+aiosqlite:///{not_a_database}"
    else:
        url = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/homecare_absent"
    monkeypatch.setenv("HOMECARE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code, _, err = await _in_thread(_run_cli, monkeypatch, capsys, "serve")
    finally:
        get_settings.cache_clear()
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert why in err and "HOMECARE_DATABASE_URL" in err


async def test_a_database_in_a_missing_folder_is_one_line_naming_the_setting(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HOMECARE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/homecare.db")
    get_settings.cache_clear()
    try:
        code, _, err = await _in_thread(_run_cli, monkeypatch, capsys, "serve")
    finally:
        get_settings.cache_clear()
    assert code == 2 and err == (
        f"bad setting HOMECARE_DATABASE_URL: the folder of the SQLite database "
        f"{tmp_path}/no/such/folder/homecare.db does not exist\n"
    )
    assert not (tmp_path / "no").exists()  # nothing made in a mistyped place


async def _in_thread(function, *args):
    # The CLI runs its own event loop (asyncio.run); the test's loop keeps running meanwhile.
    import asyncio

    return await asyncio.to_thread(function, *args)
