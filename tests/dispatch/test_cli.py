"""`homecare dispatch solve|check` on files, through Typer's runner."""

import json

import numpy as np
from typer.testing import CliRunner

from homecare_cli.engine import dispatch_app
from seed.scale import make_scale_instance
from tests.dispatch.worlds import instance_document, random_world


def test_solve_then_check(tmp_path):
    instance = tmp_path / "instance.json"
    instance.write_text(json.dumps(make_scale_instance(400, 6, 0.05, seed=3)))
    plan = tmp_path / "plan.json"
    result = CliRunner().invoke(dispatch_app, ["solve", str(instance), "-o", str(plan)])
    assert result.exit_code == 0, result.output
    written = json.loads(plan.read_text())
    assert written["visits_assigned"] > 0 and "solve_seconds" in written
    assert CliRunner().invoke(dispatch_app, ["check", str(instance), str(plan)]).exit_code == 0
    written["assignments"].append(written["assignments"][0])
    plan.write_text(json.dumps(written))
    bad = CliRunner().invoke(dispatch_app, ["check", str(instance), str(plan)])
    assert bad.exit_code == 1 and "more than once" in bad.output


def test_solve_to_stdout_round_trips_the_model(tmp_path):
    instance = tmp_path / "instance.json"
    instance.write_text(json.dumps(instance_document(random_world(np.random.default_rng(2), 10, 3, 0.1))))
    result = CliRunner().invoke(dispatch_app, ["solve", str(instance)])
    assert result.exit_code == 0
    assert json.loads(result.stdout.strip().splitlines()[-1])["month"] == "2026-12"


def test_scale_instance_is_deterministic_and_shaped():
    a, b = make_scale_instance(2000, 10, 0.1, seed=5), make_scale_instance(2000, 10, 0.1, seed=5)
    assert a == b
    visits = sum(e["visits"] for e in a["elders"])
    assert sum(p["quota"] for p in a["providers"]) == int(1.1 * visits)
    assert all(len(e["area"]) == 12 for e in a["elders"])
    assert all(len(area) == 9 for p in a["providers"] for area in p["areas"])
    assert 1.3 < visits / 2000 < 1.7
