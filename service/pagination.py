"""Opaque keyset cursors: `?limit=&cursor=`, answered with `{items, next_cursor}`."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from service.errors import Invalid
from service.validation import MAX_ID

LimitQuery = Annotated[int, Query(ge=1, le=500, description="Page size (1-500)")]
CursorQuery = Annotated[str | None, Query(max_length=200, description="Opaque cursor from next_cursor")]


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _position_number(value: Any) -> bool:
    # Every number a cursor holds is an id or smaller (bool is an int to Python, not to a cursor).
    return type(value) is int and 0 <= value <= MAX_ID


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    """The position a cursor holds; `keys` name the numbers it must hold (ids, ranks)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(position, dict) or not all(_position_number(position.get(k)) for k in keys):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise Invalid.field("cursor", "is not a cursor this service issued") from None
    return position


def next_cursor(rows: list[Any], limit: int) -> str | None:
    """Rows were fetched with limit + 1: a surplus row means there is another page."""
    if len(rows) <= limit:
        return None
    return encode_cursor({"after": rows[limit - 1].id})
