"""Hooks that steer generated values where the service's trouble lies.

Schemathesis draws ids as any integers: nearly every path id would be a 404 and every body id a 422.
Two in three plausible ids (0 ≤ id < 2^31) are mapped onto existing rows of their kind, and half the
months onto the current one, so success paths answer too; the rest, huge and negative ids included,
go through as drawn. One text value in eight gets a NUL byte, which PostgreSQL cannot store.
The mapping is a function of the drawn value, so a derandomized run stays the same run.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from service.db import utcnow
from service.months import month_of
from service.settings import Settings

EXISTING: dict[str, list[int]] = {}  # filled by the `world` fixture once it is seeded
CURRENT_MONTH = month_of(utcnow(), Settings().tz)
MONTH = re.compile(r"^\d{4}-\d{2}$")


def install(schema) -> None:
    for hook in ("map_path_parameters", "map_query", "map_body"):
        schema.hook(hook)(_hook)


def _hook(_context, values):
    return steer(values)


def steer(value: Any, key: str = "") -> Any:
    if isinstance(value, list):
        return [steer(v, key) for v in value]
    if isinstance(value, dict):
        return {k: steer(v, k) for k, v in value.items()}
    rows = EXISTING.get(key)
    if rows and type(value) is int and 0 <= value < 2**31 and value % 3 != 2:
        return rows[value % len(rows)]
    if isinstance(value, str) and MONTH.match(value):
        return CURRENT_MONTH if int(value[-1]) % 2 == 0 else value
    if isinstance(value, str) and value and zlib.crc32(value.encode()) % 8 == 0:
        return value[:1] + "\x00" + value[1:]
    return value
