"""The OpenAPI document tells the truth about errors: every status a route can give, as problem+json.

Routes document only what is particular to them (why a 409 happens, a 403 for an area out of scope).
What every route of a kind can answer is added here, once, from what the route depends on:

- a bearer token: 401 (none, unknown or revoked); a role check, 403 (the roles allowed are listed in
  the 403's description and in the operation's `x-roles`);
- any parameter or body: 422, FastAPI's validation answered by our handler as problem+json;
- a path parameter: 404 (no such object, or not the caller's);
- a body: 400 (not readable as JSON, e.g. not UTF-8) and 413 (larger than the service accepts);
- an Idempotency-Key: 409 (its first request is still running);
- the database (a token is looked up there too): 503 with Retry-After (unreachable or every connection busy).

Every 4xx and 5xx response, these and the routes' own, gets the one `Problem` schema under
`application/problem+json`, which is what `service/errors.py` sends; FastAPI's `HTTPValidationError`
(a body we never send) goes away.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from service.auth import current_principal
from service.catalogue import ROLES
from service.deps import SessionDep
from service.errors import PROBLEM_JSON, Problem
from service.idempotency.service import IdempotencyKeyHeader

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
DEFAULTS: dict[int, dict[str, Any]] = {
    400: {"description": "The body could not be read as JSON (it is not UTF-8, for one)"},
    401: {"description": "No bearer token, or an unknown or revoked one", "headers": AUTHENTICATE},
    403: {"description": "The token's role may not do this"},  # replaced by the roles allowed
    404: {"description": "No such object, or not one the caller may see"},
    409: {"description": "The Idempotency-Key's first request is still being processed"},
    413: {"description": "The body is larger than the service accepts"},
    422: {"description": "A parameter or field is invalid (each named in `errors`)"},
    503: {
        "description": "The database is unreachable or busy; retry after `Retry-After` seconds",
        "headers": RETRY_AFTER,
    },
}
_SESSION = SessionDep.__metadata__[0].dependency
_IDEMPOTENCY_KEY = IdempotencyKeyHeader.__metadata__[0].alias


def install_openapi(app: FastAPI) -> None:
    """Build the document FastAPI makes, then complete its error responses (once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document_problems(document, app.routes)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi


def document_problems(document: dict[str, Any], routes: list) -> None:
    # Each route as FastAPI documents it: with its router's prefix, responses and dependencies.
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        statuses, roles = possible_errors(route)
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            responses = operation["responses"]
            if responses.get("422", {}).get("description") == "Validation Error":  # FastAPI's own
                del responses["422"]
            for status in statuses:
                response = responses.setdefault(str(status), {})
                for key, value in DEFAULTS[status].items():
                    response.setdefault(key, value)
            if roles:
                operation["x-roles"] = list(roles)
                if 403 in statuses and responses["403"]["description"] == DEFAULTS[403]["description"]:
                    allowed = " or ".join(filter(None, [", ".join(roles[:-1]), roles[-1]]))
                    responses["403"]["description"] = f"Only {allowed} tokens may do this"
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def possible_errors(route) -> tuple[list[int], tuple[str, ...]]:
    """The error statuses a route can answer with, from what it depends on; and the roles it allows."""
    calls, params, path_params, headers, roles = set(), False, False, set(), ()
    for dependant in _walk(route.dependant):
        calls.add(dependant.call)
        roles = getattr(dependant.call, "roles", roles)
        params = params or bool(
            dependant.query_params
            or dependant.header_params
            or dependant.path_params
            or dependant.cookie_params
            or dependant.body_params
        )
        path_params = path_params or bool(dependant.path_params)
        headers.update(p.alias for p in dependant.header_params)
    statuses = []
    if current_principal in calls:
        statuses.append(401)
        roles = roles or ROLES
    if roles and set(roles) != set(ROLES):
        statuses.append(403)
    if path_params:
        statuses.append(404)
    if _IDEMPOTENCY_KEY in headers:
        statuses.append(409)
    if route.body_field is not None:
        statuses += [400, 413]
    if params:
        statuses.append(422)
    if current_principal in calls or _SESSION in calls:
        statuses.append(503)
    return statuses, roles


def _walk(dependant: Dependant):
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)
