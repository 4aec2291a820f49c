"""Form values into the API's body models: numbers that look like numbers become numbers, blanks become
absent; the API's model then judges them (strictly, as it judges JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from service.console.web import pydantic_errors


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
