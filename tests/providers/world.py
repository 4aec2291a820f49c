"""Helpers for the provider package's tests: a client wired to the real app, and a bad network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from providers import ProviderClient, RetryPolicy
from tests.service.helpers import World

CHINA = ZoneInfo("Asia/Shanghai")
# Retries without waiting: the tests are about what is sent, not how long it takes.
QUICK = RetryPolicy(attempts=4, base_delay_s=0.0, max_delay_s=0.0)


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def provider_client(app, world: World, transport: httpx.AsyncBaseTransport | None = None, **options) -> ProviderClient:
    return ProviderClient(
        "http://test",
        token_of(world.provider),
        transport=transport or httpx.ASGITransport(app=app),
        retry=options.pop("retry", QUICK),
        **options,
    )


def last_month() -> tuple[str, datetime, datetime]:
    """The previous calendar month in China: wholly past, whatever day the tests run on."""
    this_month = datetime.now(CHINA).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (this_month - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start.astimezone(UTC), this_month.astimezone(UTC)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Fails the first calls the way a field network does, then lets them through to the app.

    Each failure is "503" (a proxy in trouble), "timeout" (no connection made) or "lost" (the
    app did the work, but the answer never reached the phone).
    """

    def __init__(self, app, failures: list[str]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failures = list(failures)
        self.sent: list[tuple[str, str, object]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, json.loads(request.content) if request.content else None))
        failure = self.failures.pop(0) if self.failures else None
        if failure == "503":
            return httpx.Response(
                503,
                json={"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "restarting"},
                headers={"Retry-After": "0"},
            )
        if failure == "timeout":
            raise httpx.ConnectTimeout("connect timed out", request=request)
        response = await self.inner.handle_async_request(request)
        if failure == "lost":
            await response.aread()
            raise httpx.ReadTimeout("read timed out", request=request)
        return response
