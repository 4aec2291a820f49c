"""Retries on a bad network: the same body again, never a second visit, never a retried 4xx."""

from __future__ import annotations

import random

import httpx
import pytest
from sqlmodel import select

from providers import ProviderApiError, ProviderClient, RetryPolicy, ServiceUnreachable
from providers.retry import retry_after_seconds
from service.visits.models import Visit
from tests.providers.test_client import AT_HOME, record
from tests.providers.world import FlakyTransport, provider_client
from tests.service.helpers import accepted_assignment, ago, build_world, new_request, offer_to


async def visits_in(db) -> list[Visit]:
    async with db() as session:
        return list((await session.exec(select(Visit))).all())


@pytest.mark.parametrize("failures", [["503", "503"], ["timeout", "503"], ["lost"], ["lost", "timeout", "lost"]])
async def test_a_retried_check_in_makes_one_visit_with_one_client_visit_id(app, client, token, db, failures):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    flaky = FlakyTransport(app, failures)
    async with provider_client(app, world, transport=flaky) as app_client:
        visit = await app_client.check_in(assignment_id, ago(minutes=75), *AT_HOME, "gcj02")
        done = await app_client.check_out(visit.id, ago(minutes=5), *AT_HOME, "gcj02", ["clean"])
    assert len(flaky.sent) == len(failures) + 2
    check_ins = [body for method, path, body in flaky.sent if path.endswith("/visits")]
    assert len(check_ins) == len(failures) + 1 and all(body == check_ins[0] for body in check_ins)
    assert check_ins[0]["client_visit_id"] == str(visit.client_visit_id)
    [stored] = await visits_in(db)
    assert stored.id == visit.id == done.id and stored.client_visit_id == str(visit.client_visit_id)
    assert done.verification.status == "verified"


async def test_a_lost_batch_answer_is_uploaded_again_without_doubling(app, client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world)
    flaky = FlakyTransport(app, ["lost", "503"])
    async with provider_client(app, world, transport=flaky) as app_client:
        [result] = await app_client.upload_batch([record(assignment_id, ago(hours=3))])
    assert result.ok and len(flaky.sent) == 3 and flaky.sent[0][2] == flaky.sent[2][2]
    assert [v.id for v in await visits_in(db)] == [result.visit.id]


async def test_accept_survives_a_lost_answer(app, client, token, db):
    world = await build_world(client, token)
    assignment_id = await offer_to(db, (await new_request(client, world))["id"], world.provider_id)
    flaky = FlakyTransport(app, ["lost"])
    async with provider_client(app, world, transport=flaky) as app_client:
        accepted = await app_client.accept(assignment_id, "李秀兰")
    assert accepted.status == "accepted" and len(flaky.sent) == 2


async def test_4xx_is_never_retried(app, client, token, db):
    world = await build_world(client, token)
    _, assignment_id = await accepted_assignment(client, db, world, caregiver="王建华")
    flaky = FlakyTransport(app, [])
    async with provider_client(app, world, transport=flaky) as app_client:
        with pytest.raises(ProviderApiError) as conflict:
            await app_client.accept(assignment_id, "李秀兰")
        with pytest.raises(ProviderApiError) as invalid:
            await app_client.check_in(assignment_id, ago(minutes=-30), *AT_HOME, "gcj02")  # in the future
    assert (conflict.value.status, invalid.value.status) == (409, 422) and len(flaky.sent) == 2
    assert await visits_in(db) == []


async def test_giving_up_after_the_budget(app, client, token, db):
    world = await build_world(client, token)
    busy = FlakyTransport(app, ["503"] * 10)
    async with provider_client(app, world, transport=busy) as app_client:
        with pytest.raises(ProviderApiError) as unavailable:
            await app_client.pull()
    assert unavailable.value.status == 503 and unavailable.value.detail == "restarting" and len(busy.sent) == 4
    offline = FlakyTransport(app, ["timeout"] * 10)
    async with provider_client(app, world, transport=offline) as app_client:
        with pytest.raises(ServiceUnreachable, match="after 4 attempts.*ConnectTimeout"):
            await app_client.pull()
    assert len(offline.sent) == 4


async def test_backoff_grows_exponentially_with_jitter_and_heeds_retry_after():
    waits = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    replies = iter(
        [
            httpx.Response(503),
            httpx.Response(502),
            httpx.Response(503, headers={"Retry-After": "3"}),
            httpx.Response(504),
            httpx.Response(200, json={"items": [], "next_cursor": None}),
        ]
    )
    policy = RetryPolicy(attempts=5, base_delay_s=0.5, max_delay_s=4.0)
    transport = httpx.MockTransport(lambda request: next(replies))
    async with ProviderClient(
        "http://test", "t", transport=transport, retry=policy, sleep=sleep, rng=random.Random(7)
    ) as app_client:
        assert (await app_client.pull()).items == []
    assert len(waits) == 4
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0 and waits[2] == 3.0 and 2.0 <= waits[3] <= 4.0


def test_delays_are_capped_jittered_and_reproducible():
    policy = RetryPolicy(attempts=10, base_delay_s=1.0, max_delay_s=5.0)
    first = [policy.delay(n, random.Random(1)) for n in range(1, 10)]
    assert first == [policy.delay(n, random.Random(1)) for n in range(1, 10)]
    assert all(2.5 <= d <= 5.0 for d in first[3:])  # capped at max_delay_s, at least half of it
    spread = {round(policy.delay(2, random.Random(seed)), 6) for seed in range(20)}
    assert len(spread) > 10 and min(spread) >= 1.0 and max(spread) <= 2.0
    assert policy.delay(1, random.Random(1), retry_after_s=60) == 5.0
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})) is None
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "2"})) == 2.0
