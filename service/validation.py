"""The wire types every request is checked with, so that a well-formed but impossible value is a 422
naming its field at the edge: never a 500 from the database or the month arithmetic, never a row
that breaks the work that reads it later (a request of year 0998 once stopped every dispatch tick).

Bodies derive from `Body` (unknown fields refused, JSON types exact) or `Patch`; ids, texts, times,
days, months and area codes use the types below, in bodies, queries and paths alike, and their
bounds appear in the OpenAPI document (so generated clients and test data stay inside them).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator

# Every id is an INTEGER column on PostgreSQL (int4): a larger one cannot name a row, and the driver
# refuses to even send it.
MAX_ID = 2**31 - 1

# Plausible years. The programme's records begin this century and nothing is planned beyond it; the
# bounds keep every month helper far inside Python's dates (9999-12 has no next month) and every year
# four digits long (strftime writes year 998 as "998", which is no month). Times that devices and
# phones report are further held to "not in the future" by the services, with the clock skew allowed.
FIRST_YEAR, LAST_YEAR = 2000, 2099
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)  # exclusive
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
YEARS = f"the years {FIRST_YEAR}-{LAST_YEAR}"

# ASCII digits only: `\d` also matches fullwidth and other scripts' digits, which int() accepts.
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
AREA_PATTERN = r"^[0-9]{6}([0-9]{3}){0,2}$"
_MONTH = re.compile(MONTH_PATTERN)
# PostgreSQL cannot store NUL in text at all; the other C0 controls (bar tab and line breaks) have no
# business in a name, an address or a note and only hide text from the people reading it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no database can store it
            raise ValueError("must be valid Unicode text (a lone surrogate is not)") from None
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000)")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (tab and line breaks are allowed)")
    return value


def _identifier(value: str) -> str:
    """Codes people copy by hand: fullwidth forms (from a Chinese input method) become ASCII (NFKC),
    so the same device cannot be registered twice under two spellings."""
    value = _printable(unicodedata.normalize("NFKC", value).strip())
    if not value:
        raise ValueError("must not be blank")
    return value


def _text_form(kind: str, example: str):
    def check(value: Any) -> Any:
        # Dates and times travel as ISO 8601 text: a bare number is not a time with an offset.
        if not isinstance(value, str | date):
            raise ValueError(f"must be {kind} as text, e.g. {example}")  # noqa: TRY004 (pydantic wants ValueError)
        return value

    return check


def _plausible_moment(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset, e.g. 2026-12-03T09:30:00+08:00")
    if not EARLIEST <= value < END_OF_TIME:  # compared before converting: year 1 or 9999 may not convert
        raise ValueError(f"must lie in {YEARS}")
    return value.astimezone(UTC)  # kept in UTC, as the database keeps it


def _plausible_day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must lie in {YEARS}")
    return value


def is_month(value: str) -> bool:
    return bool(_MONTH.fullmatch(value))


def _plausible_month(value: str) -> str:
    if not is_month(value):
        raise ValueError(f"must be a month as YYYY-MM in {YEARS}")
    return value


def distinct(values: list) -> list:
    """A list validator (`AfterValidator(distinct)`): no value twice."""
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[DbId, Path()]
IdQuery = Annotated[DbId | None, Query()]
Text = Annotated[str, AfterValidator(_printable)]
Identifier = Annotated[str, AfterValidator(_identifier)]
Moment = Annotated[
    datetime,
    Strict(False),
    BeforeValidator(_text_form("a time", "2026-12-03T09:30:00+08:00")),
    AfterValidator(_plausible_moment),
    Field(description=f"ISO 8601 with a UTC offset, in {YEARS}"),
]
Day = Annotated[
    date,
    Strict(False),
    BeforeValidator(_text_form("a date", "2026-12-03")),
    AfterValidator(_plausible_day),
    Field(description=f"YYYY-MM-DD, in {YEARS}"),
]
Month = Annotated[
    str,
    AfterValidator(_plausible_month),
    Field(
        json_schema_extra={"pattern": MONTH_PATTERN},
        description=f"YYYY-MM, the calendar month in Asia/Shanghai, in {YEARS}",
    ),
]
AreaCode = Annotated[str, Field(pattern=AREA_PATTERN, description="Area code: 6, 9 or 12 digits")]


class Body(BaseModel):
    """A JSON request body: unknown fields are refused and JSON types taken as they are (strict mode),
    so `true` or "15" is not an id and "25.0" is not a latitude. Times, dates, UUIDs and decimals
    arrive as text and opt out of strictness in their own types."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _admits_none(annotation: Any) -> bool:
    if annotation is None or annotation is NoneType:
        return True
    if get_origin(annotation) is Annotated:
        return _admits_none(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return any(_admits_none(arg) for arg in get_args(annotation))
    return False


def _drop_null_defaults(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # A field that may be left out but not be null is declared `X = None`: its schema says X only.
    for name, field in model.model_fields.items():
        if not _admits_none(field.annotation):
            schema.get("properties", {}).get(field.alias or name, {}).pop("default", None)


class Patch(Body):
    """A partial update: a field left out keeps its value. null empties only a field that may be empty
    (declared `X | None`); on any other (declared `X = None`) it is refused, naming the field: it used
    to be written, and from then on every read of the row failed."""

    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info) -> Any:
        if value is None and not _admits_none(cls.model_fields[info.field_name].annotation):
            raise ValueError("must not be null; leave the field out to keep its value")
        return value
