"""Every state change leaves an audit event, in the same transaction as the change itself."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import AuditEvent
from service.db import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(row: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A JSON-safe copy of a row's columns (or of the named ones) for before/after."""
    data = row.model_dump()
    if fields is not None:
        data = {k: data[k] for k in fields if k in data}
    return _plain(data)


def audit_row(
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An audit event's columns, for writing many at once; `at`: when the change took effect, when the
    caller stamped the row with it."""
    return {
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": _plain(before),
        "after": _plain(after),
        "at": at or utcnow(),
    }


def record_change(session: AsyncSession, **change: Any) -> None:
    """One audit event (see `audit_row`), written with the session's next flush."""
    session.add(AuditEvent(**audit_row(**change)))
