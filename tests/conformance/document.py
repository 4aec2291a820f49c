"""The OpenAPI document under test, the checks every answer must pass, and how a case is sent."""

from __future__ import annotations

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.settings import Settings
from tests.conformance import hooks
from tests.conformance.failures import Recorder

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = schemathesis.Config.from_dict({"seed": 20261210, "generation": {"with-security-parameters": False}})
# The document does not depend on the database: any app's will do.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite+aiosqlite://")).openapi(), config=CONFIG
)
hooks.install(schema)


def send(case, role: str, headers: dict, target: ASGIClient, recorder: Recorder, item: str):
    """Send a case to the app and check the answer; what fails goes to the recorder. The response, if any."""
    recorder.requests[role] += 1
    try:
        response = case.call(app=target.app, session=target, headers=headers)
    except Exception as exc:  # noqa: BLE001 - in-process, an error the app did not handle reaches us
        recorder.crashed(exc, item=item, role=role, case=case)  # (a client over HTTP got a 500)
        return None
    recorder.statuses[f"{case.operation.label} {role} {response.status_code}"] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        recorder.record(group, item=item, role=role, case=case, status=response.status_code)
    return response
