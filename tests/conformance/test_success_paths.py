"""Each operation's successful answers match the document too.

Generated bodies rarely get past validation (an ID number's check digit, an elder who needs the
service), so the generated run sees few 2xx of the creating operations. Here each operation is
called once or twice the way a client uses it, in workflow order, and every answer (JSON, CSV, XLSX,
PDF) goes through the same checks.
"""

from __future__ import annotations

import uuid

from service.db import utcnow
from service.months import previous_month
from tests.conformance import hooks
from tests.conformance.document import schema, send
from tests.factories import elder_body, phone, provider_body
from tests.service.helpers import HOME, ago, at, check_out_body


def test_every_answer_of_a_workflow_matches_the_document(world, target, recorder, request):
    item = request.node.nodeid
    month = hooks.CURRENT_MONTH

    def call(role: str, method: str, path: str, expect: int, **parts):
        operation = schema[path][method]
        if "body" in parts:
            parts["media_type"] = "application/json"
        response = send(operation.Case(**parts), role, world.headers[role], target, recorder, item)
        assert response is not None, (method, path)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if "json" in response.headers.get("content-type", [""])[0] else response

    elder = call("admin", "POST", "/api/v1/elders", 201, body=elder_body(location=HOME))
    call(
        "admin",
        "PATCH",
        "/api/v1/elders/{elder_id}",
        200,
        path_parameters={"elder_id": elder["id"]},
        body={"phone": phone()},
    )
    call("operator", "GET", "/api/v1/elders/{elder_id}", 200, path_parameters={"elder_id": elder["id"]})
    call("operator", "GET", "/api/v1/elders", 200, query={"q": elder["name"], "limit": 2})
    provider = call("admin", "POST", "/api/v1/providers", 201, body=provider_body())
    call(
        "admin",
        "PATCH",
        "/api/v1/providers/{provider_id}",
        200,
        path_parameters={"provider_id": provider["id"]},
        body={"status": "suspended"},
    )
    call(
        "admin",
        "POST",
        "/api/v1/providers/{provider_id}/reinstate",
        200,
        path_parameters={"provider_id": provider["id"]},
        body={"reason": "contract renewed"},
    )
    call("regulator", "GET", "/api/v1/providers", 200, query={"area": "530111"})

    created = call("operator", "POST", "/api/v1/requests", 201, body={"elder_id": elder["id"], "service": "clean"})
    call("operator", "GET", "/api/v1/requests/{request_id}", 200, path_parameters={"request_id": created["id"]})
    call(
        "operator",
        "GET",
        "/api/v1/requests/{request_id}/explanation",
        200,
        path_parameters={"request_id": created["id"]},
    )
    call(
        "operator",
        "POST",
        "/api/v1/requests/{request_id}/cancel",
        200,
        path_parameters={"request_id": created["id"]},
        body={"reason": "the family will come"},
    )
    alert = {"elder_id": elder["id"], "kind": "sos", "at": at(utcnow())}
    call("operator", "POST", "/api/v1/alerts", 201, body=alert)
    call("operator", "POST", "/api/v1/alerts", 200, body=alert)  # merged into the live emergency
    call("operator", "GET", "/api/v1/requests", 200, query={"elder_id": elder["id"]})

    offers = world.ids["assignment_id"]
    feed = call("provider", "GET", "/api/v1/provider/assignments", 200, query={"status": "offered"})
    assert {offers[0], offers[1]} <= {a["id"] for a in feed["items"]}
    call(
        "provider",
        "POST",
        "/api/v1/provider/assignments/{assignment_id}/decline",
        200,
        path_parameters={"assignment_id": offers[1]},
        body={"reason": "no caregiver free"},
    )
    call(
        "provider",
        "POST",
        "/api/v1/provider/assignments/{assignment_id}/accept",
        200,
        path_parameters={"assignment_id": offers[0]},
        body={"caregiver": "王护理员"},
    )
    check_in = {
        "assignment_id": offers[0],
        "client_visit_id": str(uuid.uuid4()),
        "check_in": {"at": at(ago(minutes=75)), "location": {**HOME, "coord_sys": "wgs84"}},
    }
    visit = call("provider", "POST", "/api/v1/provider/visits", 201, body=check_in)
    call("provider", "POST", "/api/v1/provider/visits", 200, body=check_in)  # the phone's retry
    call(
        "provider",
        "POST",
        "/api/v1/provider/visits/{visit_id}/check-out",
        200,
        path_parameters={"visit_id": visit["id"]},
        body=check_out_body(ago(minutes=5)),
    )
    call(
        "provider",
        "POST",
        "/api/v1/provider/visits:batch",
        200,
        body={"visits": [{**check_in, "check_out": check_out_body(ago(minutes=5))}]},
    )
    call(
        "operator",
        "POST",
        "/api/v1/visits/{visit_id}/follow-up",
        201,
        path_parameters={"visit_id": visit["id"]},
        body={"satisfaction": 5},
    )
    call("operator", "GET", "/api/v1/follow-ups/queue", 200, query={"month": month})

    call("admin", "POST", "/api/v1/plans", 200, query={"wait": True}, body={"month": month})
    call("operator", "GET", "/api/v1/plans/{month}", 200, path_parameters={"month": month})
    call(
        "admin",
        "POST",
        "/api/v1/prices",
        201,
        body={"service": "clean", "unit_price_yuan": "45.50", "effective_from": str(utcnow().date())},
    )
    call("regulator", "GET", "/api/v1/prices", 200)
    for fmt in ("json", "csv", "xlsx", "pdf"):
        call("regulator", "GET", "/api/v1/reports/monthly", 200, query={"month": month, "format": fmt})
    call("regulator", "GET", "/api/v1/reports/exceptions", 200, query={"month": month, "format": "csv"})
    call("regulator", "GET", "/api/v1/reports/settlement", 200, query={"month": month, "format": "xlsx"})
    call("regulator", "POST", "/api/v1/reports/closures", 201, body={"month": previous_month(month)})
    call("regulator", "GET", "/api/v1/reports/closures", 200)
    call("admin", "POST", "/api/v1/quality/assessments", 200, body={"month": previous_month(month)})
    call("regulator", "GET", "/api/v1/quality", 200, query={"month": previous_month(month)})

    found = recorder.of(item)
    assert not found, "\n".join(map(str, found))
