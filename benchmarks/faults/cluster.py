"""A private PostgreSQL 15 cluster in a temporary directory: the one database this benchmark may restart.

The shared server on 5432 serves everyone's tests and must never be stopped; this one is made with
`initdb` as the `postgres` OS user, listens on 127.0.0.1 at its own port with its socket in its own
directory, and is stopped and deleted at the end however the run ends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
PREFERRED_PORT = 55432
OS_USER = "postgres"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pick_port() -> int:
    """55432 unless someone else's private cluster has it; then any free port."""
    if _port_free(PREFERRED_PORT):
        return PREFERRED_PORT
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateCluster:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="homecare-faults-pg-"))
        account = pwd.getpwnam(OS_USER)
        os.chown(self.base, account.pw_uid, account.pw_gid)  # initdb and the server run as postgres
        self.data, self.log = self.base / "data", self.base / "postgres.log"
        self.port = _pick_port()
        self.running = False

    @property
    def server(self) -> str:
        """asyncpg's DSN of the server, without a database (as benchmarks.pg.SERVER)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        command = ["runuser", "-u", OS_USER, "--", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", *extra, action)

    def create(self) -> None:
        self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "-U",
            "postgres",
        )
        self.start()

    def start(self) -> None:
        self._pg_ctl("start")
        self.running = True

    def stop(self) -> None:
        """Fast shutdown: open sessions are terminated, as in a restart for an upgrade or a failover."""
        self._pg_ctl("stop", "-m", "fast")
        self.running = False

    def remove(self) -> None:
        """Stop the server (immediately: nothing of it is kept) and delete its directory."""
        if self.running or (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
                self._pg_ctl("stop", "-m", "immediate")
            self.running = False
        shutil.rmtree(self.base, ignore_errors=True)
