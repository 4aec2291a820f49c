"""The OpenAPI document tells the truth: Schemathesis against the live app, as every role.

One item per operation: the schema's coverage cases (boundaries, missing and wrong-typed fields) and a
fixed number of generated ones, derandomized with a fixed seed. The cases go in turn to each role
allowed to call the operation (`x-roles`); roles that are refused, and a caller without a token, get the
first few cases only, since the role check answers before anything else is looked at. Every response must be
no 5xx, a documented status, a documented content type and a body matching the documented schema.
An item runs all its cases, then fails listing each distinct failure with the smallest request that
shows it (see conftest.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from service.catalogue import ROLES
from tests.conformance.document import schema, send

# Per operation, on top of its coverage cases; raise it for a deeper run by hand.
GENERATED = int(os.environ.get("HOMECARE_CONFORMANCE_EXAMPLES", "10"))
REFUSED = 5  # cases sent as a role the operation refuses, and without a token


@schema.parametrize()
@settings(
    max_examples=GENERATED,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_conformance(case, world, target, recorder, request):
    item = request.node.nodeid
    seen = recorder.cases[item]
    recorder.cases[item] += 1
    allowed = [role for role in ROLES if role in case.operation.definition.raw.get("x-roles", ROLES)]
    for role in (*ROLES, "anonymous"):
        if role == allowed[seen % len(allowed)] or (role not in allowed and seen < REFUSED):
            send(case, role, world.headers.get(role, {}), target, recorder, item)
