"""What the hostile-input tests share: placeholders for the objects of their world, and the check that a
refusal is a 422 naming the field with nothing written."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, literal, select, union_all

from service.models import metadata
from tests.service.helpers import HOME
from tests.service.test_elders import problem_fields

BIG = 2**31  # one past the largest id an INTEGER column holds on PostgreSQL
NOW = "2026-11-20T08:00:00+08:00"
AT_HOME = {**HOME, "coord_sys": "wgs84"}


def visit_start(**check_in) -> dict[str, Any]:
    return {
        "assignment_id": "{assignment}",
        "client_visit_id": str(uuid.uuid4()),
        "check_in": {"at": NOW, "location": AT_HOME, **check_in},
    }


def check_out(**overrides) -> dict[str, Any]:
    return {"at": NOW, "location": AT_HOME, "tasks": ["clean"], **overrides}


def fill(value: Any, ids: dict[str, int]) -> Any:
    """Placeholders -> the world's ids: "{elder}" is the id itself, "{elder}-as-text" its digits as a string."""
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, str) and value.endswith("}-as-text"):
        return str(ids[value[1 : -len("}-as-text")]])
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    return value


async def row_counts(sessions) -> list[tuple[str, int]]:
    """Every table's row count, in one statement."""
    counts = union_all(*(select(literal(t.name), func.count()).select_from(t) for t in metadata.sorted_tables))
    async with sessions() as session:
        return sorted(tuple(row) for row in (await session.exec(counts)).all())


async def refused(world, role, method, path, body, field) -> None:
    client, sessions, ids, roles = world
    before = await row_counts(sessions)
    response = await client.request(method, fill(path, ids), json=fill(body, ids), headers=roles[role])
    assert response.status_code == 422, response.text
    assert field in problem_fields(response), response.text
    assert await row_counts(sessions) == before  # nothing written, not even an audit event
