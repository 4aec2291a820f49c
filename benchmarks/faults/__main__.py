"""`python -m benchmarks.faults`: the fault benchmark."""

import sys

from benchmarks.faults.main import run

if __name__ == "__main__":
    sys.exit(run())
