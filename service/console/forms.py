"""Form values into the API's body models: numbers that look like numbers become numbers, blanks become
absent; the API's model then judges them (strictly, as it judges JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from service.console.web import field_errors, pydantic_errors
from service.errors import DomainError


def number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        return int(value)
    return value


def body(model: type[BaseModel], values: dict[str, Any]) -> tuple[BaseModel | None, dict[str, str]]:
    """The API's body from form values, or the errors by field in Chinese (nothing is written then)."""
    data = {k: v for k, v in values.items() if v not in (None, "")}
    try:
        return model.model_validate_json(json.dumps(data, ensure_ascii=False)), {}
    except ValidationError as exc:
        return None, pydantic_errors(exc)


async def submit(
    body: BaseModel | None,
    errors: dict[str, str],
    action: Callable[[], Awaitable[Any]],
    conflict: dict[str, str] | None = None,
) -> dict[str, str]:
    """Run `action` when the form made a valid body; a refusal the form can show (422, 409: `conflict`'s words
    when given) becomes its errors; anything else (an unknown object: 404) is the error page."""
    if body is None:
        return errors
    try:
        await action()
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        return conflict if exc.status == 409 and conflict else field_errors(exc)
    return {}
