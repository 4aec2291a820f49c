"""The SHA-256 each document states, so that a forwarded copy can be checked against the original."""

from __future__ import annotations

import hashlib
import json
from typing import TypeVar

from pydantic import BaseModel

Document = TypeVar("Document", bound=BaseModel)
# Not part of the content: when it was generated, and the digest itself.
UNHASHED = {"generated_at", "sha256"}


def canonical_json(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_sha256(document: BaseModel) -> str:
    return hashlib.sha256(canonical_json(document.model_dump(mode="json", exclude=UNHASHED))).hexdigest()


def sealed(document: Document) -> Document:
    return document.model_copy(update={"sha256": content_sha256(document)})
