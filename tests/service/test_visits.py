from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from dispatch.geo import wgs84_to_gcj02
from service.db import utcnow
from service.dispatching import sweeps
from service.settings import Settings
from service.visits.models import Visit
from tests.service.helpers import HOME, accepted_assignment, ago, build_world, check_in_body, check_out_body
from tests.service.test_elders import problem_fields

pytestmark = pytest.mark.asyncio
FAR = {"lat": 25.0300, "lon": 102.7410, "coord_sys": "wgs84"}  # ~1 km north of home


async def visit(client, world, assignment_id, start, minutes, check_in_at=None, check_out_at=None):
    started = await client.post(
        "/api/v1/provider/visits", json=check_in_body(assignment_id, start, check_in_at), headers=world.provider
    )
    assert started.status_code == 201, started.text
    ended = await client.post(
        f"/api/v1/provider/visits/{started.json()['id']}/check-out",
        json=check_out_body(start + timedelta(minutes=minutes), check_out_at),
        headers=world.provider,
    )
    assert ended.status_code == 200, ended.text
    return ended.json()


async def test_a_full_visit_is_verified_and_completes_the_request(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world)
    result = await visit(client, world, assignment_id, ago(minutes=75), 70)
    assert result["verification"] == {"status": "verified", "exceptions": []}
    assert result["duration_minutes"] == 70 and result["check_in"]["distance_m"] < 1
    assert result["request_id"] == request["id"] and result["caregiver"] == "李护理员"
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "completed" and detail["assignments"][0]["status"] == "completed"
    assert detail["visit"]["status"] == "verified"
    assert [t["status"] for t in detail["timeline"]] == ["open", "assigned", "accepted", "in_progress", "completed"]


async def test_short_and_off_site_visits_are_exceptions(client, token, db):
    world = await build_world(client, token)
    _, short_id = await accepted_assignment(client, db, world)
    short = await visit(client, world, short_id, ago(minutes=75), 45)
    assert short["verification"] == {"status": "exception", "exceptions": ["short_duration"]}
    _, far_id = await accepted_assignment(client, db, world, caregiver="王护理员")
    far = await visit(client, world, far_id, ago(hours=5), 65, check_in_at=FAR)
    assert far["verification"]["exceptions"] == ["off_site"]
    assert 900 < far["check_in"]["distance_m"] < 1100


async def test_gcj02_fix_at_the_home_is_on_site(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    lat, lon = wgs84_to_gcj02(HOME["lat"], HOME["lon"])  # what a phone's map SDK reports at the door
    gcj = {"lat": lat, "lon": lon, "coord_sys": "gcj02"}
    result = await visit(client, world, assignment_id, ago(minutes=70), 62, check_in_at=gcj, check_out_at=gcj)
    assert result["verification"]["status"] == "verified"
    assert result["check_out"]["distance_m"] < 0.5
    # Reported as WGS-84 by mistake, the same numbers are ~360 m off: outside the 300 m geofence.
    _, second = await accepted_assignment(client, db, world, caregiver="赵")
    wrong = {"lat": lat, "lon": lon, "coord_sys": "wgs84"}
    mislabeled = await visit(client, world, second, ago(hours=4), 62, check_in_at=wrong)
    assert mislabeled["verification"]["exceptions"] == ["off_site"]


async def test_caregiver_overlap_and_impossible_travel(client, token, db):
    world = await build_world(client, token)
    _, a1 = await accepted_assignment(client, db, world, caregiver="周")
    _, a2 = await accepted_assignment(client, db, world, caregiver="周")
    _, a3 = await accepted_assignment(client, db, world, caregiver="周")
    start = ago(hours=8)
    assert (await visit(client, world, a1, start, 65))["verification"]["status"] == "verified"
    overlapping = await visit(client, world, a2, start + timedelta(minutes=30), 65)
    assert "overlap" in overlapping["verification"]["exceptions"]
    # 20 km away two minutes after the first visit ended: no bicycle does that.
    distant = {"lat": 25.2011, "lon": 102.7410, "coord_sys": "wgs84"}
    travel = await visit(
        client, world, a3, start + timedelta(minutes=67), 65, check_in_at=distant, check_out_at=distant
    )
    assert "impossible_travel" in travel["verification"]["exceptions"]


async def test_outside_window(client, token, db):
    world = await build_world(client, token)
    window = {
        "window_start": (utcnow() - timedelta(hours=5)).isoformat(),
        "window_end": (utcnow() - timedelta(hours=4)).isoformat(),
    }
    _, assignment_id = await accepted_assignment(client, db, world, **window)
    late = await visit(client, world, assignment_id, ago(minutes=65), 61)
    assert late["verification"]["exceptions"] == ["outside_window"]


async def test_retried_check_in_and_check_out_change_nothing(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    body = check_in_body(assignment_id, ago(minutes=90))
    responses = await asyncio.gather(
        *(client.post("/api/v1/provider/visits", json=body, headers=world.provider) for _ in range(4))
    )
    assert {r.status_code for r in responses} <= {200, 201} and 201 in {r.status_code for r in responses}
    assert len({r.json()["id"] for r in responses}) == 1
    visit_id = responses[0].json()["id"]
    out = check_out_body(ago(minutes=20))
    first = await client.post(f"/api/v1/provider/visits/{visit_id}/check-out", json=out, headers=world.provider)
    second = await client.post(f"/api/v1/provider/visits/{visit_id}/check-out", json=out, headers=world.provider)
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    other_time = await client.post(
        f"/api/v1/provider/visits/{visit_id}/check-out", json=check_out_body(ago(minutes=10)), headers=world.provider
    )
    assert other_time.status_code == 409
    reused = await client.post(
        "/api/v1/provider/visits", json={**body, "assignment_id": assignment_id + 1000}, headers=world.provider
    )
    assert reused.status_code == 409
    async with db() as session:
        assert len((await session.exec(select(Visit))).all()) == 1


async def test_bad_visit_input(client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world)
    post = "/api/v1/provider/visits"
    naive = check_in_body(assignment_id, ago(minutes=5))
    naive["check_in"]["at"] = naive["check_in"]["at"][:19]
    no_sys = check_in_body(assignment_id, ago(minutes=5))
    del no_sys["check_in"]["location"]["coord_sys"]
    cases = [
        (naive, "check_in.at"),
        (no_sys, "check_in.location.coord_sys"),
        (check_in_body(assignment_id, utcnow() + timedelta(minutes=10)), "check_in.at"),
        (check_in_body(assignment_id, utcnow() - timedelta(days=62)), "check_in.at"),  # before the month
        (check_in_body(assignment_id + 999, ago(minutes=5)), "assignment_id"),
        ({**check_in_body(assignment_id, ago(minutes=5)), "client_visit_id": "not-a-uuid"}, "client_visit_id"),
    ]
    for body, field in cases:
        response = await client.post(post, json=body, headers=world.provider)
        assert response.status_code == 422, (field, response.text)
        assert field in problem_fields(response), (field, response.json())
    # Another provider's accepted assignment is not theirs to visit.
    response = await client.post(post, json=check_in_body(assignment_id, ago(minutes=5)), headers=world.other_provider)
    assert response.status_code == 422 and "assignment_id" in problem_fields(response)

    started = await client.post(post, json=check_in_body(assignment_id, ago(minutes=30)), headers=world.provider)
    visit_id = started.json()["id"]
    checkout = f"/api/v1/provider/visits/{visit_id}/check-out"
    before = await client.post(checkout, json=check_out_body(ago(minutes=40)), headers=world.provider)
    assert before.status_code == 422 and "at" in problem_fields(before)
    future = await client.post(checkout, json=check_out_body(utcnow() + timedelta(hours=1)), headers=world.provider)
    assert future.status_code == 422
    no_tasks = await client.post(checkout, json={**check_out_body(ago(minutes=1)), "tasks": []}, headers=world.provider)
    assert no_tasks.status_code == 422 and "tasks" in problem_fields(no_tasks)
    assert (
        await client.post(checkout, json=check_out_body(ago(minutes=1)), headers=world.other_provider)
    ).status_code == 404
    assert (
        await client.post(
            "/api/v1/provider/visits/999999/check-out", json=check_out_body(ago(minutes=1)), headers=world.provider
        )
    ).status_code == 404
    assert (await client.post(checkout, json=check_out_body(ago(minutes=1)), headers=world.operator)).status_code == 403
    detail = (await client.get(f"/api/v1/requests/{request['id']}", headers=world.operator)).json()
    assert detail["status"] == "in_progress" and detail["visit"]["check_out_at"] is None


async def test_batch_upload_stores_good_items_reports_bad_ones_and_replays(client, token, db):
    world = await build_world(client, token)
    _, a1 = await accepted_assignment(client, db, world, caregiver="甲")
    _, a2 = await accepted_assignment(client, db, world, caregiver="乙")
    good = {**check_in_body(a1, ago(hours=6)), "check_out": check_out_body(ago(hours=6) + timedelta(minutes=65))}
    open_only = check_in_body(a2, ago(hours=1))
    bad = {**check_in_body(a2 + 999, ago(hours=2))}
    malformed = {"client_visit_id": str(uuid.uuid4()), "check_in": {"at": "yesterday"}}
    batch = {"visits": [good, bad, open_only, malformed]}
    response = await client.post("/api/v1/provider/visits:batch", json=batch, headers=world.provider)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, True, False]
    assert results[0]["visit"]["verification"]["status"] == "verified"
    assert results[1]["error"]["status"] == 422 and results[1]["error"]["errors"][0]["field"] == "assignment_id"
    assert results[3]["error"]["status"] == 422 and results[3]["index"] == 3
    again = await client.post("/api/v1/provider/visits:batch", json=batch, headers=world.provider)
    assert [r["ok"] for r in again.json()["results"]] == [True, False, True, False]
    replayed = [r["visit"]["id"] for r in again.json()["results"] if r["ok"]]
    assert replayed == [r["visit"]["id"] for r in results if r["ok"]]
    async with db() as session:
        assert len((await session.exec(select(Visit))).all()) == 2
    assert (
        await client.post("/api/v1/provider/visits:batch", json={"visits": []}, headers=world.provider)
    ).status_code == 422


async def test_missing_check_out_sweep_and_late_upload(client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    started = (
        await client.post(
            "/api/v1/provider/visits", json=check_in_body(assignment_id, ago(hours=13)), headers=world.provider
        )
    ).json()
    assert await sweeps.flag_missing_check_outs(db, now=utcnow(), settings=Settings()) == 1
    assert await sweeps.flag_missing_check_outs(db, now=utcnow(), settings=Settings()) == 0
    async with db() as session:
        flagged = await session.get(Visit, started["id"])
        assert flagged.status == "exception" and flagged.exceptions == ["missing_check_out"]
    # The phone was offline; its check-out arrives late and the visit is verified afresh.
    late = await client.post(
        f"/api/v1/provider/visits/{started['id']}/check-out",
        json=check_out_body(ago(hours=13) + timedelta(minutes=70)),
        headers=world.provider,
    )
    assert late.status_code == 200 and late.json()["verification"]["status"] == "verified"
