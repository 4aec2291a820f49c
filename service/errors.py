"""Domain errors carry their HTTP status; one set of handlers renders RFC 9457 problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def problem(status: int, detail: str, *, title: str | None = None, errors: list | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, title=title, errors=errors), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "location", "lat") -> "location.lat"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else [str(p) for p in loc]
    return ".".join(parts) or str(loc[0] if loc else "body")


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        errors.append({"field": _field_path(tuple(error.get("loc", ()))), "reason": message})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else exc.headers
        return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, detail or "invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every database connection stayed busy past the pool's timeout: overload, not a fault of the
        # request. Nothing was written; the client may retry (with its Idempotency-Key, if it sent one).
        log.warning("no database connection free for %s %s: %s", request.method, request.url.path, exc)
        return problem(503, "the service is too busy to take this request now; retry shortly",
                       headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal error; the incident was logged")
