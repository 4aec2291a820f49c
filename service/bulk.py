"""Statements over many rows, kept under the drivers' limit on bind parameters.

A statement may carry at most 32,767 parameters on asyncpg (the PostgreSQL protocol counts them in 16
bits) and 32,766 on SQLite (SQLITE_MAX_VARIABLE_NUMBER). A multi-row `INSERT … VALUES (…), (…)` takes
one per column per row, so Guandu's month of planned requests (about 5,000 rows of 12 columns) in
one statement failed on PostgreSQL. Statements sent with a list of parameter sets (executemany) are
split by SQLAlchemy itself ("insertmanyvalues", at most 32,700 each); those built with `.values(rows)`
or a long `IN (…)` are split here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

MAX_BIND_PARAMETERS = 32_766  # the lower of asyncpg's 32,767 and SQLite's 32,766
# Ids per `IN (…)` list, and rows handed to executemany at a time (to bound memory, not parameters).
IN_LIST = 5_000

T = TypeVar("T")


def rows_per_statement(columns: int, spare: int = 0) -> int:
    """How many rows of `columns` parameters one statement may carry, `spare` parameters set aside for the
    rest of the statement."""
    return max(1, (MAX_BIND_PARAMETERS - spare) // max(1, columns))


def chunks(items: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def value_chunks(rows: Sequence[dict], spare: int = 0) -> Iterator[Sequence[dict]]:
    """Rows (dicts of the same columns) for `insert(...).values(chunk)`, each chunk within the limit."""
    if rows:
        yield from chunks(rows, rows_per_statement(len(rows[0]), spare))
