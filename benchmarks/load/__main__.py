"""`python -m benchmarks.load`: the benchmark (and, with --serve-bare, the bare server it starts)."""

import sys

from benchmarks.load.main import run

if __name__ == "__main__":
    sys.exit(run())
