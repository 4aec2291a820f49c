"""The field simulator against the real app: a small world, a whole month, then the same again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import select
from typer.testing import CliRunner

from providers import FieldSimulator, Habits, ProviderClient, roster_for
from providers.months import month_bounds
from service.lifecycle.models import Assignment
from service.visits.models import Visit
from tests.factories import elder_body
from tests.providers.world import QUICK, last_month, provider_client, token_of
from tests.service.helpers import build_world, made_before, new_request, offer_to

# Neighbours of the world's elder, 1-3 km apart: one caregiver can walk between them in the gap.
NEIGHBOURS = [{"lat": 25.0302, "lon": 102.7330}, {"lat": 25.0105, "lon": 102.7522}, {"lat": 25.0250, "lon": 102.7600}]
LIVELY = Habits(decline_share=0.17, short_share=0.2, off_site_share=0.2, offline_share=0.3)


async def small_world(client, token, db, per_elder: int, **request_fields):
    world = await build_world(client, token)
    elders = [world.elder_id] + [
        (await client.post("/api/v1/elders", json=elder_body(location=home), headers=world.admin)).json()["id"]
        for home in NEIGHBOURS
    ]
    offers = {}
    for elder_id in elders:
        for _ in range(per_elder):
            request = await new_request(client, world, elder_id=elder_id, **request_fields)
            # Made before the month the simulator plays (a check-in may not precede its request).
            await made_before(db, request["id"], datetime.now(UTC) - timedelta(days=70))
            offers[await offer_to(db, request["id"], world.provider_id)] = request["id"]
    return world, offers


async def snapshot(db):
    async with db() as session:
        visits = [
            (v.id, v.assignment_id, v.client_visit_id, v.check_in_at, v.check_out_at, v.status, v.exceptions)
            for v in (await session.exec(select(Visit).order_by(Visit.id))).all()
        ]
        assignments = [
            (a.id, a.status, a.caregiver, a.updated_at)
            for a in (await session.exec(select(Assignment).order_by(Assignment.id))).all()
        ]
    return visits, assignments


async def test_a_month_in_the_field_ends_with_every_accepted_assignment_visited(app, client, token, db):
    month, start, end = last_month()
    world, offers = await small_world(
        client, token, db, per_elder=3, window_start=start.isoformat(), window_end=end.isoformat()
    )
    waits, story = [], []

    async def sleep(seconds):
        waits.append(seconds)

    async with provider_client(app, world) as app_client:
        simulator = FieldSimulator(
            app_client,
            roster_for(world.provider_id, 4),
            month=month,
            seed=11,
            speed=86400,
            habits=LIVELY,
            sleep=sleep,
            narrate=story.append,
        )
        report = await simulator.run()

    assert (report.accepted, report.declined, report.lost_offers, report.postponed) == (10, 2, 0, 0)
    assert (report.visits, report.verified, report.offline_visits) == (10, 6, 3) and report.batch_uploads >= 1
    assert report.exceptions == {"short_duration": 2, "off_site": 2}
    assert report.surprises == [] and not report.failures and report.aborted is None
    assert 0 < sum(waits) <= 31 and any("checked in" in line for line in story)  # a day per second
    kinds = {}
    for assignment_id, request_id in offers.items():
        detail = (await client.get(f"/api/v1/requests/{request_id}", headers=world.operator)).json()
        planned = simulator.planned.get(assignment_id)
        if planned is None:  # declined: back to dispatch
            assert detail["status"] == "open" and detail["assignments"][-1]["status"] == "declined"
            continue
        assert detail["status"] == "completed" and detail["assignments"][-1]["caregiver"] == planned.caregiver
        assert detail["visit"]["exceptions"] == planned.intended_exceptions
        assert start <= datetime.fromisoformat(detail["visit"]["check_in_at"]) < end
        kinds[planned.kind] = kinds.get(planned.kind, 0) + 1
    assert kinds == {"proper": 6, "short": 2, "off_site": 2}

    before = await snapshot(db)
    async with provider_client(app, world) as fresh_client:
        again = await FieldSimulator(
            fresh_client, roster_for(world.provider_id, 4), month=month, seed=11, habits=LIVELY
        ).run()
    assert (again.accepted, again.declined, again.visits, again.batch_uploads, again.postponed) == (0, 0, 0, 0, 0)
    assert await snapshot(db) == before


async def test_this_month_in_accelerated_mode_never_reports_the_future(app, client, token, db):
    world, offers = await small_world(client, token, db, per_elder=1)
    async with provider_client(app, world) as app_client:
        report = await FieldSimulator(app_client, ["李秀兰", "王建华"], seed=3, habits=Habits(decline_share=0)).run()
    assert report.accepted == len(offers) and report.visits + report.postponed == len(offers)
    assert report.surprises == [] and not report.failures
    month_start, _ = month_bounds(report.month)
    visits, _ = await snapshot(db)
    assert len(visits) == report.visits
    for _, _, _, check_in_at, check_out_at, _, _ in visits:
        assert month_start <= check_in_at < check_out_at <= datetime.now(UTC)


async def test_run_again_in_the_month_with_new_offers_the_caregivers_never_overlap(app, client, token, db):
    """A second run (a new process: nothing remembered) learns the month's visits from the service and
    books its caregivers around them; before, it placed new visits on top of the first run's (`overlap`)."""
    month, _, end = last_month()
    # Two days (eight slots of the one caregiver): the first run takes four, the second the other four.
    window = {"window_start": (end - timedelta(days=2)).isoformat(), "window_end": end.isoformat()}
    world, first_offers = await small_world(client, token, db, per_elder=1, **window)
    calm = Habits(decline_share=0, short_share=0, off_site_share=0, offline_share=0)
    async with provider_client(app, world) as app_client:
        first = await FieldSimulator(app_client, ["李秀兰"], month=month, seed=5, habits=calm).run()
    assert first.visits == first.verified == len(first_offers)
    elders = {
        (await client.get(f"/api/v1/requests/{r}", headers=world.operator)).json()["elder_id"]
        for r in first_offers.values()
    }
    later = []
    for e in sorted(elders):
        request_id = (await new_request(client, world, elder_id=e, **window))["id"]
        await made_before(db, request_id, datetime.now(UTC) - timedelta(days=70))
        later.append(await offer_to(db, request_id, world.provider_id))
    async with provider_client(app, world) as app_client:
        second = await FieldSimulator(app_client, ["李秀兰"], month=month, seed=5, habits=calm).run()
    assert second.visits == second.verified == len(later) and second.exceptions == {} and second.surprises == []
    visits, _ = await snapshot(db)
    assert len(visits) == len(first_offers) + len(later) and all(v[6] == [] for v in visits)


class PhoneDiesBeforeCheckOut(httpx.AsyncBaseTransport):
    def __init__(self, app) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/check-out"):
            return httpx.Response(503, json={"title": "Service Unavailable", "status": 503, "detail": "no signal"})
        return await self.inner.handle_async_request(request)


async def test_a_visit_left_half_done_is_finished_not_doubled(app, client, token, db):
    month, start, end = last_month()
    world, offers = await small_world(
        client, token, db, per_elder=1, window_start=start.isoformat(), window_end=end.isoformat()
    )
    calm = Habits(decline_share=0, short_share=0, off_site_share=0, offline_share=0)
    async with provider_client(app, world, transport=PhoneDiesBeforeCheckOut(app)) as app_client:
        cut_short = await FieldSimulator(app_client, ["李秀兰"], month=month, seed=5, habits=calm).run()
    assert cut_short.visits == 0 and cut_short.failures == {"503 Service Unavailable": len(offers)}
    half_done, _ = await snapshot(db)
    assert [v[4] for v in half_done] == [None] * len(offers)  # checked in, never out
    async with provider_client(app, world) as app_client:
        report = await FieldSimulator(app_client, ["李秀兰"], month=month, seed=5, habits=calm).run()
    visits, _ = await snapshot(db)
    assert report.visits == report.verified == len(visits) == len(offers) and report.surprises == []
    assert [v[:4] for v in visits] == [v[:4] for v in half_done]  # the same visits, their first check-ins


def _service_answering(identity: dict):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/me":
            return httpx.Response(200, json=identity)
        if request.url.path == "/api/v1/provider/visits":
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return httpx.Response(200, json={"items": [], "next_cursor": "c"})

    return httpx.MockTransport(answer)


def _simulate(monkeypatch, identity: dict, *args: str):
    import providers
    from homecare_cli.main import app as homecare

    monkeypatch.setattr(
        providers,
        "ProviderClient",
        lambda url, token: ProviderClient(url, token, transport=_service_answering(identity)),
    )
    return CliRunner().invoke(homecare, ["simulate", *args])


PROVIDER_3 = {"token_id": 1, "name": "app", "role": "provider", "provider_id": 3, "area_code": None}


def test_the_cli_prints_the_summary(monkeypatch):
    monkeypatch.setenv("HOMECARE_TOKEN", "secret")
    result = _simulate(monkeypatch, PROVIDER_3, "--provider", "3", "--month", "2026-11", "--speed", "0")
    assert result.exit_code == 0, result.output
    assert "provider 3, month 2026-11: offers accepted 0, declined 0" in result.output
    left_out = _simulate(monkeypatch, PROVIDER_3, "--month", "2026-11", "--speed", "0")  # the token's provider
    assert left_out.exit_code == 0 and "provider 3, month 2026-11" in left_out.output
    monkeypatch.delenv("HOMECARE_TOKEN")
    assert _simulate(monkeypatch, PROVIDER_3, "--provider", "3").exit_code == 2
    monkeypatch.setenv("HOMECARE_TOKEN", "secret")
    assert _simulate(monkeypatch, PROVIDER_3, "--provider", "3", "--month", "2026-13").exit_code == 2


def test_the_cli_checks_the_provider_against_the_token(monkeypatch):
    monkeypatch.setenv("HOMECARE_TOKEN", "secret")
    other = _simulate(monkeypatch, PROVIDER_3, "--provider", "4", "--month", "2026-11")
    assert other.exit_code == 2 and other.output == "error: the token belongs to provider 3, not --provider 4\n"
    operator = {"token_id": 2, "name": "seat-1", "role": "operator", "provider_id": None, "area_code": None}
    wrong_role = _simulate(monkeypatch, operator, "--provider", "3", "--month", "2026-11")
    assert wrong_role.exit_code == 2 and len(wrong_role.output.splitlines()) == 1
    assert "operator token" in wrong_role.output


async def test_following_the_offer_stream_answers_each_offer_as_it_comes(client, token, db, live):
    world, offers = await small_world(client, token, db, per_elder=1)
    async with ProviderClient(live, token_of(world.provider), retry=QUICK) as app_client:
        simulator = FieldSimulator(app_client, ["李秀兰", "王建华"], seed=3, habits=Habits(decline_share=0))
        following = asyncio.create_task(simulator.follow(max_offers=len(offers) + 1))
        async with asyncio.timeout(60):  # a bound against a hang
            while simulator.report.accepted < len(offers):
                await asyncio.sleep(0.02)
            late = await new_request(client, world)  # made while the phone listens
            await made_before(db, late["id"], datetime.now(UTC) - timedelta(days=70))  # the simulator's days
            late_id = await offer_to(db, late["id"], world.provider_id)
            report = await following
    assert report.accepted == len(offers) + 1
    assert report.surprises == [] and not report.failures and report.aborted is None
    _, assignments = await snapshot(db)
    statuses = {assignment_id: status for assignment_id, status, _, _ in assignments}
    assert set(statuses) == set(offers) | {late_id} and set(statuses.values()) <= {"accepted", "completed"}
