"""The scheduler's heartbeat: a small file its event loop rewrites every few seconds, and the check that
reads it (`homecare scheduler-health`, the compose file's health check).

The file says what the process is doing — `leader` (running the jobs), `standby` (another scheduler
leads), `connecting`/`reconnecting` (the database is away) — since when, and when it was last written. It
is written by a task on the same event loop as the jobs, so a loop that stopped turning stops the
heartbeat: a stale file means a stuck or dead scheduler, whatever its state says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("homecare.heartbeat")

STATES = ("connecting", "reconnecting", "standby", "leader")
# A heartbeat older than this many intervals is stale: one late write is a busy moment, three are not.
STALE_AFTER_INTERVALS = 3


class Heartbeat:
    """Writes `path` every `interval_s` seconds and at once on every change of state; no path, no file."""

    def __init__(self, path: Path | None, interval_s: float) -> None:
        self.path, self.interval_s = path, interval_s
        self.state = "connecting"
        self.since = time.time()
        self._warned = False

    def set(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown scheduler state {state!r}")
        if state != self.state:
            self.state, self.since = state, time.time()
            self.write()

    def write(self) -> None:
        if self.path is None:
            return
        record = {"state": self.state, "since": self.since, "at": time.time(), "pid": os.getpid()}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(record), encoding="utf-8")
            os.replace(temporary, self.path)  # atomic: a reader never sees half a file
            self._warned = False
        except OSError as exc:  # a full or read-only disk must not stop the jobs; the check will say stale
            if not self._warned:
                log.error("cannot write the heartbeat %s: %s", self.path, exc)
                self._warned = True

    @contextlib.asynccontextmanager
    async def beating(self) -> AsyncIterator[Heartbeat]:
        """Write the heartbeat every interval while the block runs."""

        async def beat() -> None:
            while True:
                self.write()
                await asyncio.sleep(self.interval_s)

        task = asyncio.get_running_loop().create_task(beat(), name="heartbeat")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass(frozen=True)
class Health:
    healthy: bool
    message: str


def check(path: Path, interval_s: float, now: float | None = None) -> Health:
    """Healthy when the heartbeat is fresh, whatever the state: a standby, or a scheduler waiting for the
    database, is doing what it should (the message says which)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        state, since, at = str(record["state"]), float(record["since"]), float(record["at"])
    except FileNotFoundError:
        return Health(False, f"no heartbeat at {path}: the scheduler has not started or cannot write there")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Health(False, f"unreadable heartbeat at {path}: {exc}")
    now = time.time() if now is None else now
    age = now - at
    held = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
    if age > STALE_AFTER_INTERVALS * interval_s:
        return Health(False, f"stale: last heartbeat {age:.0f} s ago (state {state} since {held})")
    return Health(True, f"{state} since {held}, heartbeat {age:.1f} s ago")
