"""A provider sees an elder's name, phone, address and home only while it has a visit to make: once its
offer is declined, expired or cancelled, the assignment keeps its id and status (so the app can drop it)
and loses the elder."""

from __future__ import annotations

from datetime import timedelta

from service.db import utcnow
from service.dispatching import sweeps
from service.settings import Settings
from tests.service.helpers import (
    accepted_assignment,
    ago,
    build_world,
    check_in_body,
    check_out_body,
    new_request,
    offer_to,
)

ELDER_NAME = "张桂英"  # tests/factories.py elder_body


async def _feed(client, world) -> dict[int, dict]:
    items = (await client.get("/api/v1/provider/assignments", params={"limit": 500}, headers=world.provider)).json()[
        "items"
    ]
    return {item["id"]: item for item in items}


async def _offered(client, db, world) -> int:
    return await offer_to(db, (await new_request(client, world))["id"], world.provider_id)


async def test_the_elder_stays_while_there_is_a_visit_and_goes_with_the_offer(client, token, db):
    world = await build_world(client, token)
    ids: dict[str, int] = {"expired": await _offered(client, db, world)}
    # the only open offer so far runs out
    assert await sweeps.expire_offers(db, now=utcnow() + timedelta(days=2), settings=Settings()) == 1
    ids["offered"] = await _offered(client, db, world)
    _, ids["accepted"] = await accepted_assignment(client, db, world)

    _, ids["completed"] = await accepted_assignment(client, db, world)
    visit = (
        await client.post(
            "/api/v1/provider/visits", json=check_in_body(ids["completed"], ago(minutes=70)), headers=world.provider
        )
    ).json()
    done = await client.post(
        f"/api/v1/provider/visits/{visit['id']}/check-out", json=check_out_body(ago(minutes=1)), headers=world.provider
    )
    assert done.status_code == 200, done.text

    ids["declined"] = await _offered(client, db, world)
    declined = await client.post(
        f"/api/v1/provider/assignments/{ids['declined']}/decline", json={"reason": "人手不足"}, headers=world.provider
    )
    assert declined.status_code == 200 and declined.json()["elder"] is None  # the answer itself too

    for status in ("offered", "accepted"):  # cancelled by the call centre, before and after acceptance
        ids[f"cancelled after {status}"] = assignment_id = (
            await _offered(client, db, world)
            if status == "offered"
            else (await accepted_assignment(client, db, world))[1]
        )
        request_id = (await _feed(client, world))[assignment_id]["request_id"]
        cancelled = await client.post(
            f"/api/v1/requests/{request_id}/cancel", json={"reason": "家属已处理"}, headers=world.operator
        )
        assert cancelled.status_code == 200, cancelled.text

    feed = await _feed(client, world)
    expected_status = {"cancelled after offered": "cancelled", "cancelled after accepted": "cancelled"}
    for case, assignment_id in ids.items():
        item = feed[assignment_id]
        assert item["status"] == expected_status.get(case, case), case
        if case in ("offered", "accepted", "completed"):
            assert item["elder"]["name"] == ELDER_NAME and item["elder"]["address"], case
        else:
            assert item["elder"] is None, case
            assert item["id"] == assignment_id and item["request_id"]  # enough to drop it
    for status in ("declined", "expired", "cancelled"):  # filtered by status: the same
        items = (
            await client.get("/api/v1/provider/assignments", params={"status": status}, headers=world.provider)
        ).json()["items"]
        assert items and all(item["elder"] is None for item in items)
