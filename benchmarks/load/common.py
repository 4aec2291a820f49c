"""What the modules of the load benchmark share: where things run, and what must be undone at the end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from benchmarks.pg import SERVER as PG

__all__ = [
    "BARE_DB",
    "CHILDREN",
    "HOST",
    "OPERATOR_NAME",
    "OTHERS",
    "PG",
    "ROOT",
    "SERVICE_DB",
    "SERVICE_URL",
    "WORKDIRS",
]

ROOT = Path(__file__).resolve().parent.parent.parent
HOST = "127.0.0.1"
# HOMECARE_BENCH_DB_SUFFIX: databases of their own, for runs from two worktrees against one PostgreSQL
_SUFFIX = os.environ.get("HOMECARE_BENCH_DB_SUFFIX", "")
SERVICE_DB, BARE_DB = f"homecare_bench_load{_SUFFIX}", f"homecare_bench_bare{_SUFFIX}"
SERVICE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{SERVICE_DB}"
OPERATOR_NAME = "bench-operator"
OTHERS = "everything else on the machine (other sessions)"
CHILDREN: list[subprocess.Popen] = []
WORKDIRS: list[Path] = []  # the servers' logs, removed at the end unless --keep-db
