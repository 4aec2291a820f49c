"""The OpenAPI document's error responses come from one mechanism (service/openapi.py), for every route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, FastAPI

from service.app import create_app
from service.auth import Admin, AnyRole
from service.deps import SessionDep
from service.errors import PROBLEM_JSON, Problem, problem_body
from service.idempotency.service import IdempotencyDep
from service.openapi import install_openapi
from service.settings import Settings

PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _document() -> dict:
    return create_app(Settings(database_url="sqlite+aiosqlite://")).openapi()


def test_every_error_response_is_problem_json_with_its_schema():
    document = _document()
    errors = [
        (path, method, status, response)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    assert len(errors) > 150
    assert [e[:3] for e in errors if e[3].get("content") != PROBLEM] == []
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    errors = schemas["Problem"]["properties"]["errors"]
    assert errors["items"] == {"$ref": "#/components/schemas/FieldProblem"}


def test_what_the_error_handlers_send_fits_the_problem_schema():
    invalid = problem_body(422, "phone: too short", errors=[{"field": "phone", "reason": "too short"}])
    Problem.model_validate(invalid)
    Problem.model_validate(problem_body(404, "no such elder"))


def test_statuses_follow_from_what_a_route_depends_on():
    router = APIRouter(prefix="/things")

    @router.post("/{thing_id}", status_code=201, responses={409: {"description": "Name taken"}})
    async def create(
        thing_id: int, body: Annotated[dict, Body()], _: Admin, session: SessionDep, idempotency: IdempotencyDep
    ) -> dict:
        return {}

    @router.get("")
    async def listing(_: AnyRole) -> list[int]:
        return []

    @router.get("/health")
    async def health() -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    install_openapi(app)
    paths = app.openapi()["paths"]
    created = paths["/things/{thing_id}"]["post"]
    assert sorted(created["responses"]) == ["201", "400", "401", "403", "404", "409", "413", "422", "503"]
    assert created["responses"]["409"]["description"] == "Name taken"  # the route's own words are kept
    assert created["responses"]["403"]["description"] == "Only admin tokens may do this"
    assert created["x-roles"] == ["admin"]
    assert "Retry-After" in created["responses"]["503"]["headers"]
    listed = paths["/things"]["get"]
    assert sorted(listed["responses"]) == ["200", "401", "503"]  # any role: nothing to refuse
    assert listed["x-roles"] == ["admin", "operator", "provider", "regulator", "gateway"]
    assert sorted(paths["/things/health"]["get"]["responses"]) == ["200"]


def test_the_roles_of_each_operation_are_documented():
    document = _document()
    roles = {
        f"{method.upper()} {path}": operation.get("x-roles")
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert roles["POST /api/v1/requests"] == ["admin", "operator"]
    assert roles["POST /api/v1/provider/visits"] == ["provider"]
    assert roles["GET /api/v1/reports/monthly"] == ["admin", "regulator"]
    assert roles["GET /livez"] is None
