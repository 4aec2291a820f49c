"""A small world for workflow tests: one elder at home, providers near it, their tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from service.db import utcnow
from service.lifecycle import moves
from service.lifecycle.models import ServiceRequest
from service.settings import Settings
from tests.factories import elder_body, provider_body

HOME = {"lat": 25.0211, "lon": 102.7410}


@dataclass
class World:
    admin: dict
    operator: dict
    elder_id: int
    provider_id: int
    provider: dict
    other_provider_id: int
    other_provider: dict


async def build_world(client, token, **elder_overrides) -> World:
    admin = await token("admin")
    elder = (
        await client.post("/api/v1/elders", json=elder_body(location=HOME, **elder_overrides), headers=admin)
    ).json()
    first = (await client.post("/api/v1/providers", json=provider_body(), headers=admin)).json()
    second = (
        await client.post(
            "/api/v1/providers",
            json=provider_body(stations=[{"name": "远站", "location": {"lat": 25.05, "lon": 102.76}}]),
            headers=admin,
        )
    ).json()
    return World(
        admin,
        await token("operator"),
        elder["id"],
        first["id"],
        await token("provider", provider_id=first["id"]),
        second["id"],
        await token("provider", provider_id=second["id"]),
    )


async def nobody_may_take(client, world: World) -> None:
    """Both providers suspended, and a guardian to phone: an emergency of the world's elder is escalated at
    once (nobody may take it), with someone for the operator to call."""
    for provider_id in (world.provider_id, world.other_provider_id):
        response = await client.patch(
            f"/api/v1/providers/{provider_id}", json={"status": "suspended"}, headers=world.admin
        )
        assert response.status_code == 200, response.text
    response = await client.post(
        f"/api/v1/elders/{world.elder_id}/contacts",
        headers=world.admin,
        json={"name": "张小明", "relation": "child", "phone": "13800138000", "guardian": True},
    )
    assert response.status_code == 201, response.text


async def new_request(client, world: World, **overrides) -> dict:
    body = {"elder_id": world.elder_id, "service": "clean", "urgency": "routine", **overrides}
    response = await client.post("/api/v1/requests", json=body, headers=world.operator)
    assert response.status_code == 201, response.text
    return response.json()


async def offer_to(db, request_id: int, provider_id: int, settings: Settings | None = None) -> int:
    """Offer a request to a provider the way the dispatcher does; returns the assignment id."""
    async with db() as session:
        request = (await session.exec(select(ServiceRequest).where(ServiceRequest.id == request_id))).one()
        assignment = await moves.offer(
            session,
            request,
            provider_id,
            km=1.0,
            explanation={"kind": "test"},
            actor="test",
            now=utcnow(),
            settings=settings or Settings(),
        )
        assert assignment is not None
        await session.commit()
        return assignment.id


async def accepted_assignment(
    client, db, world: World, caregiver: str = "李护理员", **request_overrides
) -> tuple[dict, int]:
    """A request offered to and accepted by the world's provider. Its window spans the last and the
    next day, so visits the tests date hours back belong to it even in the first hours of a month."""
    now = utcnow()
    request_overrides.setdefault("window_start", at(now - timedelta(days=1)))
    request_overrides.setdefault("window_end", at(now + timedelta(days=1)))
    request = await new_request(client, world, **request_overrides)
    await made_before(db, request["id"], now - timedelta(days=1))  # tests date their visits hours back
    assignment_id = await offer_to(db, request["id"], world.provider_id)
    response = await client.post(
        f"/api/v1/provider/assignments/{assignment_id}/accept", json={"caregiver": caregiver}, headers=world.provider
    )
    assert response.status_code == 200, response.text
    return request, assignment_id


async def made_before(db, request_id: int, when: datetime) -> None:
    """Date a request's creation back: a check-in may not precede the request it answers."""
    async with db() as session:
        await session.exec(update(ServiceRequest).where(ServiceRequest.id == request_id).values(created_at=when))
        await session.commit()


def at(moment: datetime) -> str:
    return moment.isoformat()


def check_in_body(assignment_id: int, when: datetime, location: dict | None = None, client_id: str | None = None):
    return {
        "assignment_id": assignment_id,
        "client_visit_id": client_id or str(uuid.uuid4()),
        "check_in": {"at": at(when), "location": location or {**HOME, "coord_sys": "wgs84"}},
    }


def check_out_body(when: datetime, location: dict | None = None, tasks=("clean",)):
    return {"at": at(when), "location": location or {**HOME, "coord_sys": "wgs84"}, "tasks": list(tasks)}


def ago(**kwargs) -> datetime:
    return utcnow() - timedelta(**kwargs)
