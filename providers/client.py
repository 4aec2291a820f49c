"""ProviderClient: what a provider organisation's app uses to talk to the dispatch service.

    async with ProviderClient("https://dispatch.example", token) as app:
        for offer in await app.pull_changes():
            ...
        visit = await app.check_in(offer.id, datetime.now(UTC), 25.02, 102.74, "gcj02")

        async for offer in app.offers():  # each new offer the moment it is made (Server-Sent Events)
            ...

Every call is retried on timeouts, dropped connections and 5xx with the very same body (see
providers/retry.py for why that is safe); 4xx raise ProviderApiError at once.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Self

import httpx
from httpx_sse import SSEError, aconnect_sse

from providers.errors import ServiceUnreachable, api_error
from providers.models import (
    Assignment,
    AssignmentPage,
    BatchResponse,
    BatchResult,
    CheckInRecord,
    CheckOutRecord,
    CoordSys,
    Identity,
    Position,
    Visit,
    VisitPage,
    VisitRecord,
    require_aware,
)
from providers.retry import TRANSIENT_ERRORS, RetryPolicy, retry_after_seconds, should_retry

API = "/api/v1/provider"
STREAM_READ_TIMEOUT_S = 45.0  # three of the service's heartbeats (15 s): silence longer than this is a dead stream
MAX_PAGE = 500  # the service's largest page
MAX_BATCH = 200  # the service's largest visits:batch


class ProviderClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not token:
            raise ValueError("a provider token is needed (homecare token create --role provider --provider ID)")
        self.retry = retry or RetryPolicy()
        self.cursor: str | None = None
        """Where pull_changes() stopped; keep it across restarts to pull only what changed since."""
        self._versions: dict[int, datetime | None] = {}
        self.offer_position: str | None = None
        """The last event id of the offer stream; keep it across restarts to resume exactly where the app was."""
        self.stream_ready = False
        """True once the open offer stream has sent all that was missed (its `ready` event)."""
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "homecare-providers/1"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- assignments ------------------------------------------------------------------------

    async def pull(self, status: str | None = None, cursor: str | None = None, limit: int = 100) -> AssignmentPage:
        """One page of this provider's assignments, optionally only those changed since `cursor`."""
        params: dict[str, Any] = {"limit": min(max(limit, 1), MAX_PAGE)}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        return AssignmentPage.model_validate((await self._call("GET", f"{API}/assignments", params=params)).json())

    async def pull_changes(self, limit: int = 200) -> list[Assignment]:
        """Every assignment changed since the last call (all of them the first time), each version once.

        The service holds its cursor back a little once caught up, so recent rows come again; the
        client drops versions it has already handed out, which keeps "changed since" exact.
        """
        limit = min(max(limit, 1), MAX_PAGE)
        changed: dict[int, Assignment] = {}
        cursor = self.cursor
        while True:
            page = await self.pull(cursor=cursor, limit=limit)
            for assignment in page.items:
                if assignment.id not in self._versions or self._versions[assignment.id] != assignment.updated_at:
                    changed[assignment.id] = assignment
            cursor = page.next_cursor or cursor
            if len(page.items) < limit or not page.next_cursor:
                break
        # Only now, so that a pull that fails half-way is repeated whole rather than losing pages.
        self.cursor = cursor
        for assignment in changed.values():
            self._versions[assignment.id] = assignment.updated_at
        return sorted(changed.values(), key=lambda a: a.id)

    async def offers(self, read_timeout_s: float = STREAM_READ_TIMEOUT_S) -> AsyncIterator[Assignment]:
        """Each offer to this provider, as the service commits it, without end (the offer stream).

        The first connection begins with the offers open now; after a dropped connection, a timeout or a
        5xx/429 the client reconnects (after the retry policy's delay, at least the service's Retry-After)
        from `offer_position`, and the service sends exactly the offers made meanwhile: none lost, none
        twice. Gives up with ServiceUnreachable after `retry.attempts` failures in a row; a 4xx other than
        429 raises ProviderApiError at once. Plain polling (`pull_changes`) keeps working beside it.
        """
        failures, last_failure = 0, ""
        timeout = httpx.Timeout(
            self._http.timeout.connect,
            read=read_timeout_s,
            write=self._http.timeout.write,
            pool=self._http.timeout.pool,
        )
        while True:
            retry_after = None
            headers = {"Last-Event-ID": self.offer_position} if self.offer_position else {}
            try:
                async with aconnect_sse(
                    self._http, "GET", f"{API}/offers/stream", headers=headers, timeout=timeout
                ) as source:
                    response = source.response
                    if response.is_success:
                        async for event in source.aiter_sse():
                            failures = 0
                            if event.event == "offer":
                                offer = Assignment.model_validate_json(event.data)
                                self.offer_position = event.id or self.offer_position
                                yield offer
                            elif event.event == "ready":
                                self.offer_position = event.id or self.offer_position
                                self.stream_ready = True
                        last_failure = "the service ended the stream"  # its maximum age: reconnect at once
                        continue
                    await response.aread()
                    if response.status_code != 429 and not should_retry(response.status_code):
                        raise api_error(response)
                    retry_after, last_failure = retry_after_seconds(response), f"HTTP {response.status_code}"
            except (*TRANSIENT_ERRORS, SSEError) as exc:
                last_failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
            finally:
                self.stream_ready = False
            failures += 1
            if failures >= self.retry.attempts:
                raise ServiceUnreachable("GET", f"{API}/offers/stream", failures, last_failure)
            await self._sleep(self.retry.delay(failures, self._rng, retry_after))

    async def accept(self, assignment_id: int, caregiver: str) -> Assignment:
        """Take the offer and name who goes. Accepting twice with the same caregiver is harmless."""
        response = await self._call("POST", f"{API}/assignments/{assignment_id}/accept", json={"caregiver": caregiver})
        return Assignment.model_validate(response.json())

    async def decline(self, assignment_id: int, reason: str) -> Assignment:
        """Hand the offer back to dispatch, which will not offer this request to us again."""
        response = await self._call("POST", f"{API}/assignments/{assignment_id}/decline", json={"reason": reason})
        return Assignment.model_validate(response.json())

    async def whoami(self) -> Identity:
        """The token's own identity: its role and, for a provider token, the provider it acts for."""
        return Identity.model_validate((await self._call("GET", "/api/v1/me")).json())

    # --- visits -----------------------------------------------------------------------------

    async def month_visits(self, month: str) -> list[Visit]:
        """Every visit of ours begun in the month (YYYY-MM, China time), all pages."""
        visits: list[Visit] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"month": month, "limit": MAX_PAGE, **({"cursor": cursor} if cursor else {})}
            page = VisitPage.model_validate((await self._call("GET", f"{API}/visits", params=params)).json())
            visits.extend(page.items)
            if not page.next_cursor:
                return visits
            cursor = page.next_cursor

    async def check_in(
        self,
        assignment_id: int,
        at: datetime,
        lat: float,
        lon: float,
        coord_sys: CoordSys,
        client_visit_id: uuid.UUID | str | None = None,
    ) -> Visit:
        """Start the visit. The client_visit_id (a fresh uuid4 unless given) is what makes retries
        safe: the service answers the same key with the same visit. It comes back on the visit."""
        require_aware(at, "check-in time")
        body = {
            "assignment_id": assignment_id,
            "client_visit_id": str(client_visit_id or uuid.uuid4()),
            "check_in": CheckInRecord(at=at, location=Position(lat=lat, lon=lon, coord_sys=coord_sys)).model_dump(
                mode="json"
            ),
        }
        return Visit.model_validate((await self._call("POST", f"{API}/visits", json=body)).json())

    async def check_out(
        self,
        visit_id: int,
        at: datetime,
        lat: float,
        lon: float,
        coord_sys: CoordSys,
        tasks: Sequence[str],
        note: str | None = None,
    ) -> Visit:
        """End the visit; the answer carries the duration and the service's verification."""
        require_aware(at, "check-out time")
        record = CheckOutRecord(
            at=at, location=Position(lat=lat, lon=lon, coord_sys=coord_sys), tasks=list(tasks), note=note
        )
        response = await self._call(
            "POST", f"{API}/visits/{visit_id}/check-out", json=record.model_dump(mode="json", exclude_none=True)
        )
        return Visit.model_validate(response.json())

    async def upload_batch(self, items: Sequence[VisitRecord]) -> list[BatchResult]:
        """Upload what a phone recorded offline. One result per item, in order (`index` counts from
        0 over `items`); a bad item is reported in its result and does not stop the others.
        Uploading the same items again changes nothing on the service."""
        results: list[BatchResult] = []
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            body = {"visits": [item.model_dump(mode="json", exclude_none=True) for item in chunk]}
            answer = BatchResponse.model_validate((await self._call("POST", f"{API}/visits:batch", json=body)).json())
            results.extend(r.model_copy(update={"index": r.index + start}) for r in answer.results)
        return results

    # --- the wire ---------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        last_failure = ""
        for attempt in range(1, self.retry.attempts + 1):
            retry_after = None
            try:
                response = await self._http.request(method, path, json=json, params=params)
            except TRANSIENT_ERRORS as exc:
                last_failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if response.is_success:
                    return response
                if not should_retry(response.status_code) or attempt == self.retry.attempts:
                    raise api_error(response)
                retry_after = retry_after_seconds(response)
            if attempt < self.retry.attempts:
                await self._sleep(self.retry.delay(attempt, self._rng, retry_after))
        raise ServiceUnreachable(method, path, self.retry.attempts, last_failure)
