"""Errors told without the data in them: no log line and no command-line error shows personal data.

An exception's message may quote the values it failed on: PostgreSQL's `DETAIL: Failing row contains (…)` and
`Key (id_number)=(…) already exists`, `invalid input syntax for type integer: "…"`, pydantic's `input_value=…`;
SQLAlchemy's adds the statement's parameters unless the engine hides them (ours do). So an error is told by its
class, where it was raised (files, lines and code of the stack), the SQL statement (bind placeholders, no values)
and its SQLSTATE. A message is kept only for errors about reaching the database, which say where it is and what
refused, never what was in it.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback

from sqlalchemy.exc import StatementError

WITHHELD = "message withheld: it may quote personal data"
# SQLSTATE classes about the connection, never about a row: connection exception, authorisation, unknown
# database, insufficient resources, operator intervention (shutdown, "cannot connect now").
_REACH_SQLSTATES = ("08", "28", "3D", "53", "57")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it came from, innermost last."""
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return chain


def sqlstate(exc: BaseException) -> str | None:
    for link in _chain(exc):
        code = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _innermost_message(exc: BaseException) -> str:
    message = str(_chain(exc)[-1]).strip()
    return message.splitlines()[0] if message else ""


def is_unreachable_database(exc: BaseException) -> bool:
    """The database could not be reached or opened (as opposed to refusing a statement's data)."""
    code = sqlstate(exc)
    if code is not None:
        return code.startswith(_REACH_SQLSTATES)
    innermost = _chain(exc)[-1]
    # SQLite's own messages ("unable to open database file", "file is not a database") name no data; its
    # IntegrityError and the like are subclasses of DatabaseError, hence the exact types.
    return isinstance(innermost, OSError) or type(innermost) in (sqlite3.OperationalError, sqlite3.DatabaseError)


def describe(exc: BaseException) -> str:
    """One line: the exception's class, its SQLSTATE if any, and its message only when it is safe to show."""
    name = type(exc).__name__
    code = sqlstate(exc)
    state = f" (SQLSTATE {code})" if code else ""
    if is_unreachable_database(exc):
        return f"{name}: {_innermost_message(exc)}{state}"
    return f"{name}{state}: {WITHHELD}"


def safe_traceback(exc: BaseException) -> str:
    """Like `traceback.format_exception`, with every exception's message replaced by `describe`."""
    parts: list[str] = []
    for n, link in enumerate(reversed(_chain(exc))):
        if n:
            parts.append("\nwhich led to:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(link.__traceback__)))
        parts.append(f"{type(link).__module__}.{describe(link)}\n")
        if isinstance(link, StatementError) and link.statement:
            parts.append(f"[SQL: {link.statement[:1000]}]\n")
    return "".join(parts).rstrip("\n")


_installed = False


def install_log_redaction() -> None:
    """Every log record carrying an exception, whoever logs it (ours, uvicorn, SQLAlchemy's pool,
    APScheduler), gets its traceback text rendered by `safe_traceback`; formatters print that text."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = safe_traceback(record.exc_info[1])
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
