"""The SHA-256 each document states, so that a forwarded copy can be checked against the original."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import TypeVar

from pydantic import BaseModel, TypeAdapter

Document = TypeVar("Document", bound=BaseModel)
# Not part of the content: when it was generated, and the digest itself.
UNHASHED = {"generated_at", "sha256"}
SLICE = 1000


def canonical_json(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_sha256(document: BaseModel, *, long: str | None = None) -> str:
    """The digest of the document's canonical JSON. `long` names a list field of many items: the same bytes
    are then hashed a slice at a time, so that no single step holds the interpreter for long (a month's
    exceptions are sealed in a worker thread while the event loop serves intake)."""
    whole = document.model_dump(mode="json", exclude=UNHASHED | ({long} if long else set()))
    if long is None:
        return hashlib.sha256(canonical_json(whole)).hexdigest()
    marker = canonical_json({long: []})[1:-1]  # b'"items":[]': keys are sorted, strings escaped
    before, after = canonical_json({**whole, long: []}).split(marker)
    digest = hashlib.sha256(before + marker[:-1])
    items, adapter = getattr(document, long), _list_adapter(type(document), long)
    for start in range(0, len(items), SLICE):
        digest.update(
            (b"," if start else b"")
            + canonical_json(adapter.dump_python(items[start : start + SLICE], mode="json"))[1:-1]
        )
    digest.update(marker[-1:] + after)
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def _list_adapter(model: type[BaseModel], field: str) -> TypeAdapter:
    return TypeAdapter(model.model_fields[field].annotation)


def sealed(document: Document, *, long: str | None = None) -> Document:
    return document.model_copy(update={"sha256": content_sha256(document, long=long)})
