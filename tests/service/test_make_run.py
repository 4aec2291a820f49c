"""`make run` as a newcomer runs it: on the port asked for, saying where it serves, printing the demo tokens
as a line to paste, and working again when run a second time on the same database."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_run(port: int, env: dict[str, str], deadline_s: float = 240) -> tuple[list[str], subprocess.Popen]:
    """Start `make run PORT=port`; return its output up to "serving on …" and the running process."""
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [*map(lines.put, process.stdout), lines.put(None)], daemon=True).start()
    seen, until = [], time.monotonic() + deadline_s
    while time.monotonic() < until:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line.rstrip("\n"))
        if line.startswith("serving on "):
            return seen, process
    _stop(process)
    raise AssertionError("make run did not start serving:\n" + "\n".join(seen))


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # make and the server it started: the group this test made
    process.wait(timeout=30)


def _tokens(output: list[str]) -> dict[str, str]:
    [line] = [line for line in output if line.startswith("export ADMIN=")]
    assert re.fullmatch(r"export ADMIN=hc_\S+ OPERATOR=hc_\S+ PROVIDER=hc_\S+ REGULATOR=hc_\S+", line), line
    return dict(pair.split("=", 1) for pair in line.removeprefix("export ").split())


def test_make_run_twice_on_a_chosen_port(tmp_path):
    env = {**os.environ, "HOMECARE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/homecare.db"}
    earlier: dict[str, str] = {}
    for run in (1, 2):
        port = _free_port()
        output, process = _make_run(port, env)
        try:
            assert output[-1] == f"serving on http://127.0.0.1:{port}"
            assert f"export API=http://127.0.0.1:{port}/api/v1" in output
            tokens = _tokens(output)
            api = f"http://127.0.0.1:{port}/api/v1"
            me = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {tokens['PROVIDER']}"}).json()
            assert me["role"] == "provider" and me["provider_id"] == 1
            for role in ("ADMIN", "OPERATOR", "REGULATOR"):
                answer = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {tokens[role]}"})
                assert answer.json()["role"] == role.lower()
            if run == 2:  # the seed added nothing; the first run's demo tokens were replaced
                assert any("3000 elders (0 new)" in line for line in output), output
                old = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {earlier['ADMIN']}"})
                assert old.status_code == 401
            earlier = tokens
        finally:
            _stop(process)
