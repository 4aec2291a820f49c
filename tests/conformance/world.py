"""A small world for the OpenAPI conformance run: a few elders, providers, requests and visits.

Built through the API (the same way the workflow tests build theirs) so that generated requests
whose ids hit these rows reach the endpoints' success paths, not only their 404s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.factories import elder_body, provider_body
from tests.service.helpers import (
    HOME,
    accepted_assignment,
    ago,
    build_world,
    check_in_body,
    check_out_body,
    made_before,
    new_request,
    offer_to,
)


@dataclass
class ConformanceWorld:
    """Its ids: the offers (first two assignments) open, the visits (first checked out, second not)."""

    headers: dict[str, dict[str, str]]  # role -> Authorization header
    ids: dict[str, list[int]] = field(default_factory=dict)  # id field name -> existing rows


async def seed(client, db, token) -> ConformanceWorld:
    world = await build_world(client, token)
    admin = world.admin
    elders = [world.elder_id]
    for area in ("530111001002", "530111002001"):
        body = elder_body(area_code=area, location=HOME, services=["clean", "emergency"])
        elders.append((await client.post("/api/v1/elders", json=body, headers=admin)).json()["id"])
    providers = [world.provider_id, world.other_provider_id]
    third = await client.post("/api/v1/providers", json=provider_body(areas=["530111002"]), headers=admin)
    providers.append(third.json()["id"])

    requests = [(await new_request(client, world))["id"]]  # open
    assignments = []
    for service in ("companionship", "clean"):  # two offers waiting for provider 1's answer
        offered = (await new_request(client, world, service=service))["id"]
        await made_before(db, offered, ago(days=1))  # a check-in may not precede its request
        requests.append(offered)
        assignments.append(await offer_to(db, offered, world.provider_id))
    visits = []
    for minutes_ago in (180, 90):  # one visit checked out, one still in progress
        request, assignment = await accepted_assignment(client, db, world)
        requests.append(request["id"])
        assignments.append(assignment)
        response = await client.post(
            "/api/v1/provider/visits", json=check_in_body(assignment, ago(minutes=minutes_ago)), headers=world.provider
        )
        visits.append(response.json()["id"])
    done = await client.post(
        f"/api/v1/provider/visits/{visits[0]}/check-out", json=check_out_body(ago(minutes=100)), headers=world.provider
    )
    assert done.status_code == 200, done.text

    headers = {
        "admin": admin,
        "operator": world.operator,
        "provider": world.provider,
        "regulator": await token("regulator", area_code="530111"),
    }
    return ConformanceWorld(
        headers=headers,
        ids={
            "elder_id": elders,
            "provider_id": providers,
            "request_id": requests,
            "assignment_id": assignments,
            "visit_id": visits,
        },
    )
