"""A production database without the demo seed: `homecare areas import`, `homecare admin create`, and the
scheduler's health check, in-process on a scratch SQLite database."""

from __future__ import annotations

import json
import time

import pytest

from homecare_cli.main import app
from service.heartbeat import Heartbeat, check
from service.settings import get_settings

AREAS_CSV = """\ufeffcode,name,level,parent
530100,昆明市,city,
530111,官渡区,county,530100
530111001,关上街道,street,530111
530111001001,关上社区,community,530111001
530111002,太和街道,street,530111
"""


def areas_in_database(cli) -> list[tuple]:
    from homecare_cli.context import with_sessions
    from service.areas.models import Area

    async def read(sessions):
        from sqlmodel import select

        async with sessions() as session:
            rows = (await session.exec(select(Area).order_by(Area.code))).all()
            return [(a.code, a.name, a.level, a.parent_code) for a in rows]

    return with_sessions(read)


def test_areas_import_loads_the_tree_and_is_idempotent(cli, tmp_path):
    source = tmp_path / "areas.csv"
    source.write_text(AREAS_CSV, encoding="utf-8")
    first = cli.invoke(app, ["areas", "import", str(source)])
    assert first.exit_code == 0, first.output
    assert "5 read, 5 added, 0 renamed, 0 unchanged" in first.output
    again = cli.invoke(app, ["areas", "import", str(source)])
    assert again.exit_code == 0 and "0 added, 0 renamed, 5 unchanged" in again.output
    assert areas_in_database(cli)[:2] == [("530100", "昆明市", "city", None), ("530111", "官渡区", "county", "530100")]
    # JSON on stdin: a renamed street and a new community under an area already in the database
    renamed = json.dumps(
        [
            {"code": "530111002", "name": "太和街道办事处", "level": "street", "parent": "530111"},
            {"code": "530111002001", "name": "太和社区", "level": "community", "parent": "530111002"},
        ]
    )
    result = cli.invoke(app, ["areas", "import", "-"], input=renamed)
    assert result.exit_code == 0, result.output
    assert "2 read, 1 added, 1 renamed, 0 unchanged" in result.output
    assert ("530111002", "太和街道办事处", "street", "530111") in areas_in_database(cli)


@pytest.mark.parametrize(
    "content, message",
    [
        ("code,name,level,parent\n53011100,关上街道,street,530111\n", "line 2: code: a street code is 9 digits"),
        ("code,name,level,parent\n530111001,关上街道,village,530111\n", "line 2: level: must be one of"),
        ("code,name,level,parent\n530111001,,street,530111\n", "line 2: name: 1 to 100 characters"),
        ("code,name,level,parent\n530111001,关上街道,street,530112\n", "parent: the county of 530111001 is 530111"),
        ("code,name,level,parent\n530111001,关上街道,street,530111\n", "parent: 530111 is neither in the file"),
        ("code,name,level,parent\n530111001001,关上社区,community,\n", "parent: a community needs its street's code"),
        ("code,name\n530111,官渡区\n", "line 1: the header must name the columns code,name,level,parent"),
        ("code,name,level,parent\n530111,官渡区,county,\n530111,官渡,county,\n", "530111 is listed twice"),
        ('[{"code": 530111}', "not valid JSON"),
        ("code,name,level,parent\n", "the file lists no areas"),
        (b"\xff\xfe\x00", "the file is not UTF-8 text"),
    ],
)
def test_areas_import_refuses_a_bad_file_with_one_line_per_problem_and_writes_nothing(cli, tmp_path, content, message):
    source = tmp_path / "areas.csv"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli.invoke(app, ["areas", "import", str(source)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert all(line.startswith(f"error: {source}: ") for line in result.output.strip().splitlines())
    assert cli.invoke(app, ["migrate"]).exit_code == 0 and areas_in_database(cli) == []


def test_an_area_keeps_its_level_and_parent(cli, tmp_path):
    source = tmp_path / "areas.csv"
    source.write_text(AREAS_CSV, encoding="utf-8")
    assert cli.invoke(app, ["areas", "import", str(source)]).exit_code == 0
    moved = tmp_path / "moved.csv"
    moved.write_text("code,name,level,parent\n530111,官渡区,county,\n", encoding="utf-8")
    result = cli.invoke(app, ["areas", "import", str(moved)])
    assert result.exit_code == 2 and "exists as a county under 530100" in result.output


def test_areas_import_names_a_missing_file(cli, tmp_path):
    result = cli.invoke(app, ["areas", "import", str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 2 and result.output.startswith("error: cannot read")


def test_admin_create_prints_the_first_admin_token_once(cli):
    first = cli.invoke(app, ["admin", "create", "--name", "ops-lead"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert token.startswith("hc_") and len(first.stdout.splitlines()) == 1
    second = cli.invoke(app, ["admin", "create", "--name", "ops-lead"])
    assert second.exit_code == 1 and second.stdout == "" and "exists already" in second.output
    assert cli.invoke(app, ["admin", "create", "--name", ""]).exit_code == 2


def test_scheduler_health_reads_the_heartbeat(cli, tmp_path, monkeypatch):
    assert cli.invoke(app, ["scheduler-health"]).exit_code == 2  # HOMECARE_HEARTBEAT_PATH unset
    path = tmp_path / "beat"
    monkeypatch.setenv("HOMECARE_HEARTBEAT_PATH", str(path))
    monkeypatch.setenv("HOMECARE_HEARTBEAT_S", "5")
    get_settings.cache_clear()
    missing = cli.invoke(app, ["scheduler-health"])
    assert missing.exit_code == 1 and "no heartbeat" in missing.output
    beat = Heartbeat(path, 5.0)
    beat.set("standby")
    fresh = cli.invoke(app, ["scheduler-health"])
    assert fresh.exit_code == 0 and fresh.stdout.startswith("standby since ")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "at": time.time() - 16}))  # more than 3 intervals of 5 s
    stale = cli.invoke(app, ["scheduler-health"])
    assert stale.exit_code == 1 and "stale" in stale.output
    path.write_text("{not json")
    assert cli.invoke(app, ["scheduler-health"]).exit_code == 1


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_scheduler(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    beat = Heartbeat(blocked / "beat", 1.0)  # its folder is a file
    beat.set("leader")
    beat.write()
    assert not check(blocked / "beat", 1.0).healthy


def test_long_running_services_wait_for_an_unreachable_database(monkeypatch):
    import homecare_cli.context as cli_module

    attempts, waits = [], []

    def migrate(_settings):
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError(111, "Connect call failed")

    monkeypatch.setattr(cli_module, "migrate_database", migrate)
    monkeypatch.setattr("time.sleep", waits.append)
    cli_module.migrate_when_reachable(None)
    assert len(attempts) == 3 and len(waits) == 2 and all(0 < w <= 10 for w in waits)

    def broken(_settings):
        raise RuntimeError("a bad migration is not waited out")

    monkeypatch.setattr(cli_module, "migrate_database", broken)
    with pytest.raises(RuntimeError):
        cli_module.migrate_when_reachable(None)
