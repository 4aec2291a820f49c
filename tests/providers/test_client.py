"""ProviderClient against the real app, on both databases."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from dispatch.geo import wgs84_to_gcj02
from providers import (
    ConflictError,
    NaiveTimeError,
    NotFoundError,
    ProviderApiError,
    ProviderClient,
    VisitRecord,
)
from providers.models import CheckInRecord, CheckOutRecord, Position
from service.visits.models import Visit
from tests.providers.world import CHINA, QUICK, provider_client, token_of
from tests.service.helpers import HOME, accepted_assignment, ago, build_world, new_request, offer_to

AT_HOME = wgs84_to_gcj02(HOME["lat"], HOME["lon"])  # what a phone at the door reports


def record(assignment_id: int, start: datetime, minutes: float | None = 70) -> VisitRecord:
    at_home = Position(lat=AT_HOME[0], lon=AT_HOME[1], coord_sys="gcj02")
    check_out = (
        None
        if minutes is None
        else CheckOutRecord(at=start + timedelta(minutes=minutes), location=at_home, tasks=["clean"])
    )
    return VisitRecord(
        assignment_id=assignment_id,
        client_visit_id=uuid.uuid4(),
        check_in=CheckInRecord(at=start, location=at_home),
        check_out=check_out,
    )


async def test_pull_accept_decline_and_changes_since_the_last_pull(app, client, token, db):
    world = await build_world(client, token)
    first = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    second = await offer_to(db, (await new_request(client, world, urgency="urgent"))["id"], world.provider_id)
    async with provider_client(app, world) as app_client:
        page = await app_client.pull(status="offered", limit=1)
        assert [a.id for a in page.items] == [first] and page.next_cursor
        everything = await app_client.pull_changes(limit=1)  # pages through with the remembered cursor
        assert [(a.id, a.status) for a in everything] == [(first, "offered"), (second, "offered")]
        assert everything[0].elder.location.coord_sys == "wgs84" and "****" in everything[0].elder.phone
        assert await app_client.pull_changes() == []  # nothing changed since

        taken = await app_client.accept(first, "李秀兰")
        assert (taken.status, taken.caregiver) == ("accepted", "李秀兰")
        assert (await app_client.accept(first, "李秀兰")) == taken  # a repeated accept is harmless
        declined = await app_client.decline(second, "人手不足")
        assert declined.status == "declined"
        assert [(a.id, a.status) for a in await app_client.pull_changes()] == [
            (first, "accepted"),
            (second, "declined"),
        ]
    async with provider_client(app, world) as other_app:
        assert [a.id for a in (await other_app.pull(status="accepted")).items] == [first]


async def test_check_in_and_out_with_a_generated_client_visit_id(app, client, token, db):
    world = await build_world(client, token)
    request, assignment_id = await accepted_assignment(client, db, world)
    async with provider_client(app, world) as app_client:
        start = ago(minutes=80).astimezone(CHINA)  # any offset will do; the service keeps UTC
        visit = await app_client.check_in(assignment_id, start, *AT_HOME, "gcj02")
        assert visit.client_visit_id.version == 4 and visit.verification.status == "in_progress"
        assert visit.check_in.at == start and visit.check_in.distance_m < 1
        again = await app_client.check_in(
            assignment_id, start, *AT_HOME, "gcj02", client_visit_id=visit.client_visit_id
        )
        assert again.id == visit.id
        done = await app_client.check_out(
            visit.id,
            start + timedelta(minutes=72),
            *AT_HOME,
            "gcj02",
            ["clean", "companionship"],
            note="老人精神状态良好",
        )
    assert done.duration_minutes == 72 and done.verification.status == "verified"
    assert done.tasks == ["clean", "companionship"] and done.request_id == request["id"]


async def test_refusals_carry_the_problem_and_404_409_are_told_apart(app, client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, caregiver="王建华")
    async with provider_client(app, world) as app_client:
        with pytest.raises(NotFoundError) as missing:
            await app_client.accept(999_999, "王建华")
        assert missing.value.status == 404 and missing.value.title == "Not found"
        with pytest.raises(ConflictError) as taken:
            await app_client.accept(assignment_id, "李秀兰")
        assert taken.value.status == 409 and taken.value.detail
        with pytest.raises(ProviderApiError) as invalid:
            await app_client.check_in(assignment_id + 999, ago(minutes=5), *AT_HOME, "gcj02")
        assert invalid.value.status == 422 and not isinstance(invalid.value, (NotFoundError, ConflictError))
        assert invalid.value.fields == {"assignment_id"} and invalid.value.detail
        visit = await app_client.check_in(assignment_id, ago(minutes=30), *AT_HOME, "gcj02")
        with pytest.raises(ProviderApiError) as early:
            await app_client.check_out(visit.id, ago(minutes=40), *AT_HOME, "gcj02", ["clean"])
        assert early.value.fields == {"at"} and early.value.problem.type == "about:blank"


async def test_naive_times_are_refused_before_anything_is_sent(app, client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    sent = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    async with provider_client(app, world, transport=transport) as app_client:
        with pytest.raises(NaiveTimeError, match="no UTC offset"):
            await app_client.check_in(assignment_id, datetime(2026, 12, 3, 9, 30), *AT_HOME, "gcj02")
        with pytest.raises(NaiveTimeError):
            await app_client.check_out(1, datetime(2026, 12, 3, 10, 45), *AT_HOME, "gcj02", ["clean"])
    with pytest.raises(ValueError, match="no UTC offset"):
        CheckInRecord(at=datetime(2026, 12, 3, 9, 30), location=Position(lat=25, lon=102, coord_sys="wgs84"))
    assert sent == []


async def test_batch_upload_reports_each_item_and_replays_without_change(app, client, token, db):
    world = await build_world(client, token)
    _, first = await accepted_assignment(client, db, world, caregiver="甲")
    _, second = await accepted_assignment(client, db, world, caregiver="乙")
    items = [record(first, ago(hours=6)), record(first + 999, ago(hours=3)), record(second, ago(hours=2), None)]
    async with provider_client(app, world) as app_client:
        results = await app_client.upload_batch(items)
        assert [(r.index, r.ok) for r in results] == [(0, True), (1, False), (2, True)]
        assert results[0].visit.verification.status == "verified" and results[2].visit.check_out is None
        assert results[1].error.status == 422 and results[1].error.errors[0].field == "assignment_id"
        assert results[1].client_visit_id == str(items[1].client_visit_id)
        again = await app_client.upload_batch(items)
        assert [r.visit.id for r in again if r.ok] == [r.visit.id for r in results if r.ok]
        assert await app_client.upload_batch([]) == []
    async with db() as session:
        assert len((await session.exec(select(Visit))).all()) == 2


async def test_large_batches_go_in_chunks_the_service_accepts():
    sizes = []

    def service(request: httpx.Request) -> httpx.Response:
        visits = json.loads(request.content)["visits"]
        sizes.append(len(visits))
        refused = {"title": "Unprocessable content", "status": 422, "detail": "test"}
        return httpx.Response(
            200,
            json={
                "results": [
                    {"index": n, "client_visit_id": v["client_visit_id"], "ok": False, "error": refused}
                    for n, v in enumerate(visits)
                ]
            },
        )

    items = [record(1, ago(hours=3)) for _ in range(450)]
    async with ProviderClient("http://test", "t", transport=httpx.MockTransport(service)) as app_client:
        results = await app_client.upload_batch(items)
    assert sizes == [200, 200, 50]
    assert [r.index for r in results] == list(range(450))
    assert [r.client_visit_id for r in results] == [str(i.client_visit_id) for i in items]


async def test_an_error_page_that_is_not_problem_json_still_raises_a_typed_error():
    transport = httpx.MockTransport(lambda request: httpx.Response(418, text="<html>teapot</html>"))
    async with ProviderClient("http://test", "t", transport=transport) as app_client:
        with pytest.raises(ProviderApiError) as error:
            await app_client.pull()
    assert (error.value.status, error.value.title, error.value.errors) == (418, "I'm a Teapot", [])
    assert "teapot" in error.value.detail


async def test_the_offer_stream_brings_new_offers_and_resumes_exactly_after_a_drop(client, token, db, live):
    world = await build_world(client, token)
    open_now = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    async with ProviderClient(live, token_of(world.provider), retry=QUICK) as app_client:
        stream = app_client.offers()
        first = await anext(stream)  # the offers open now come first
        made = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
        second = await anext(stream)
        assert (first.id, second.id, second.status) == (open_now, made, "offered")
        await stream.aclose()  # the phone loses its connection
        missed = [await offer_to(db, (await new_request(client, world))["id"], world.provider_id) for _ in range(2)]
        stream = app_client.offers()  # back, from app_client.offer_position
        assert [(await anext(stream)).id for _ in missed] == missed
        after = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
        assert (await anext(stream)).id == after
        await stream.aclose()
        assert app_client.offer_position


async def test_the_offer_stream_raises_at_once_on_a_refusal(client, token, db, live):
    world = await build_world(client, token)
    async with ProviderClient(live, token_of(world.operator), retry=QUICK) as app_client:
        with pytest.raises(ProviderApiError) as refused:
            await anext(app_client.offers())
    assert refused.value.status == 403
