"""ProviderClient: what a provider organisation's app uses to talk to the dispatch service.

    async with ProviderClient("https://dispatch.example", token) as app:
        for offer in await app.pull_changes():
            ...
        visit = await app.check_in(offer.id, datetime.now(UTC), 25.02, 102.74, "gcj02")

Every call is retried on timeouts, dropped connections and 5xx with the very same body (see
providers/retry.py for why that is safe); 4xx raise ProviderApiError at once.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Self

import httpx

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
MAX_PAGE = 500  # the service's largest page
MAX_BATCH = 200  # the service's largest visits:batch


class ProviderClient:
    def __init__(self, base_url: str, token: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float | httpx.Timeout = 10.0, retry: RetryPolicy | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        if not token:
            raise ValueError("a provider token is needed (homecare token create --role provider --provider ID)")
        self.retry = retry or RetryPolicy()
        self.cursor: str | None = None
        """Where pull_changes() stopped; keep it across restarts to pull only what changed since."""
        self._versions: dict[int, datetime | None] = {}
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout,
                                       headers={"Authorization": f"Bearer {token}",
                                                "User-Agent": "homecare-providers/1"})

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

    async def check_in(self, assignment_id: int, at: datetime, lat: float, lon: float, coord_sys: CoordSys,
                       client_visit_id: uuid.UUID | str | None = None) -> Visit:
        """Start the visit. The client_visit_id (a fresh uuid4 unless given) is what makes retries
        safe: the service answers the same key with the same visit. It comes back on the visit."""
        require_aware(at, "check-in time")
        body = {"assignment_id": assignment_id, "client_visit_id": str(client_visit_id or uuid.uuid4()),
                "check_in": CheckInRecord(at=at, location=Position(lat=lat, lon=lon, coord_sys=coord_sys))
                .model_dump(mode="json")}
        return Visit.model_validate((await self._call("POST", f"{API}/visits", json=body)).json())

    async def check_out(self, visit_id: int, at: datetime, lat: float, lon: float, coord_sys: CoordSys,
                        tasks: Sequence[str], note: str | None = None) -> Visit:
        """End the visit; the answer carries the duration and the service's verification."""
        require_aware(at, "check-out time")
        record = CheckOutRecord(at=at, location=Position(lat=lat, lon=lon, coord_sys=coord_sys), tasks=list(tasks),
                                note=note)
        response = await self._call("POST", f"{API}/visits/{visit_id}/check-out",
                                    json=record.model_dump(mode="json", exclude_none=True))
        return Visit.model_validate(response.json())

    async def upload_batch(self, items: Sequence[VisitRecord]) -> list[BatchResult]:
        """Upload what a phone recorded offline. One result per item, in order (`index` counts from
        0 over `items`); a bad item is reported in its result and does not stop the others.
        Uploading the same items again changes nothing on the service."""
        results: list[BatchResult] = []
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start:start + MAX_BATCH]
            body = {"visits": [item.model_dump(mode="json", exclude_none=True) for item in chunk]}
            answer = BatchResponse.model_validate((await self._call("POST", f"{API}/visits:batch", json=body)).json())
            results.extend(r.model_copy(update={"index": r.index + start}) for r in answer.results)
        return results

    # --- the wire ---------------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, json: Any = None,
                    params: dict[str, Any] | None = None) -> httpx.Response:
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
