"""Domain errors carry their HTTP status; one set of handlers renders RFC 9457 problem+json."""

from __future__ import annotations

import errno
import logging
import socket
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.exc import DBAPIError, EmulatedDBAPIException
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("homecare.errors")


class DomainError(Exception):
    status = 400
    title = "Bad request"
    headers: dict[str, str] | None = None  # sent with the problem (a 503's Retry-After)

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    status, title = 404, "Not found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class Invalid(DomainError):
    """422 naming the field: `Invalid.field("phone", "must be ...")`."""

    status, title = 422, "Unprocessable content"

    @classmethod
    def field(cls, field: str, reason: str) -> Invalid:
        return cls(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class Unauthorized(DomainError):
    status, title = 401, "Unauthorized"


class Forbidden(DomainError):
    status, title = 403, "Forbidden"


class TooMany(DomainError):
    """429 with Retry-After: a per-client limit reached (open offer streams of one token)."""

    status, title = 429, "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after_s)}


class FieldProblem(BaseModel):
    field: str = Field(description="The parameter or body field, dotted: `location.lat`, `cursor`")
    reason: str


class Problem(BaseModel):
    """The body of every error response (RFC 9457), as `problem_body` builds it; for the OpenAPI document."""

    type: str = Field(description="`about:blank`: the status and title say what kind of problem it is")
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="Each invalid parameter or field with the reason (on 422)"
    )


def problem_body(status: int, detail: str, *, title: str | None = None, errors: list | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, title=title, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "location", "lat") -> "location.lat"; ("query", "limit") -> "limit"
    named = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    parts = [str(p) for p in named]
    path = ".".join(parts) or str(loc[0] if loc else "body")
    # A field's name is the client's own text (an unknown key): a lone surrogate in it would make the
    # answer itself unencodable, a 500 in place of the 422.
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def field_errors(errors: list[Any]) -> list[dict[str, str]]:
    """pydantic's errors as the problem's `errors`: the field's dotted path and the reason."""
    return [
        {
            "field": _field_path(tuple(error.get("loc", ()))),
            "reason": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for error in errors
    ]


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return field_errors(exc.errors())


# What a database restart, a failover or a network fault raises, on its way to a request: asyncpg's own
# classes (the create path uses the driver's connection directly), the same wrapped by SQLAlchemy (as
# DBAPIError, or bare as its emulated DBAPI error when a pool checkout fails to connect), the socket's
# errors while no server listens, and SQLite's file that cannot be opened.
_DRIVER_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: the connection does not exist, failed, was refused
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,  # restarting
    asyncpg.TooManyConnectionsError,
    # The client's protocol in a state it cannot leave: seen on a pooled connection that had received the
    # server's FATAL "terminating connection" while idle and was handed out before its socket closed.
    asyncpg.InternalClientError,
)
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
}
RETRY_AFTER_S = 2  # a restart of PostgreSQL takes a few seconds


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the database could not be reached or dropped the connection:
    no fault of the request, which wrote nothing that was not rolled back and may be retried."""
    return unavailability(exc) is not None


def unavailability(exc: BaseException) -> BaseException | None:
    """The error in `exc`'s chain that says the database is unavailable, if one does."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (
            isinstance(current, DBAPIError)
            and current.connection_invalidated
            or isinstance(current, _DRIVER_UNAVAILABLE)
            or isinstance(current, asyncpg.InterfaceError)
            and "connection is closed" in str(current)
            or isinstance(current, (ConnectionError, TimeoutError, socket.gaierror))
            or isinstance(current, OSError)
            and current.errno in _NETWORK_ERRNOS
            or type(current).__module__ == "sqlite3"
            and "unable to open database" in str(current)
        ):
            return current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def route_of(scope: dict[str, Any]) -> str:
    """The matched route's template (`/api/v1/elders/{elder_id}`) for logs and metrics, never the concrete
    path: paths carry ids and, in a mistaken client's hands, anything else."""
    return getattr(scope.get("route"), "path", "unmatched")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else exc.headers
        return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, detail or "invalid request", title=Invalid.title, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every database connection stayed busy past the pool's timeout: overload, not a fault of the
        # request. Nothing was written; the client may retry (with its Idempotency-Key, if it sent one).
        log.warning("no database connection free for %s %s", request.method, route_of(request.scope))
        return problem(
            503, "the service is too busy to take this request now; retry shortly", headers={"Retry-After": "1"}
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        cause = unavailability(exc)
        if cause is None:
            raise exc  # on to the handler of last resort: 500, logged with its traceback
        log.warning(
            "database unavailable during %s %s: %s", request.method, route_of(request.scope), type(cause).__name__
        )
        return problem(
            503,
            "the database is unavailable; retry shortly",
            title="Service unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    # Classes, not Exception itself: Starlette hands Exception's handler the error only after the response,
    # then re-raises it (the server logs a traceback and drops the client's keep-alive connection).
    for kind in (
        DBAPIError,
        EmulatedDBAPIException,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ):
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback is logged without any exception's message (service/redaction.py): it could quote data.
        log.exception("unhandled error on %s %s", request.method, route_of(request.scope))
        return problem(500, "internal error; the incident was logged")
