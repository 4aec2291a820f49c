"""The report lane (issue 10, item 4): downloads never take the connections intake and dispatch need."""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter

import httpx
import pytest
from sqlalchemy import event

from service.app import create_app
from tests.reports.month import MONTH, build_october

# Mixed formats; two PDFs in the fifty (each renders for a few hundred ms, the suite must stay quick).
DOWNLOADS = [
    ("monthly", "json"),
    ("monthly", "csv"),
    ("monthly", "xlsx"),
    ("exceptions", "csv"),
    ("settlement", "xlsx"),
    ("settlement", "json"),
    ("exceptions", "json"),
]
# Who is asking, as the pool sees it: set by each task of the test, inherited by the tasks and greenlets it
# starts (a report's queries side by side included).
ROLE: contextvars.ContextVar[str] = contextvars.ContextVar("role", default="test")


class PoolWatch:
    """Connections checked out of one engine's pool, now and at most, per role."""

    def __init__(self, engine) -> None:
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self._held: dict[int, str] = {}
        event.listen(engine.sync_engine, "checkout", self._out)
        event.listen(engine.sync_engine, "checkin", self._in)

    def _out(self, _dbapi, record, _proxy) -> None:
        role = ROLE.get()
        self._held[id(record)] = role
        self.now[role] += 1
        self.total[role] += 1
        self.most[role] = max(self.most[role], self.now[role])

    def _in(self, _dbapi, record) -> None:
        role = self._held.pop(id(record), None)
        if role is not None:
            self.now[role] -= 1


async def test_fifty_downloads_leave_intake_its_connections(settings, db, token):
    october = await build_october(db)
    # Tokens are remembered for the whole test: a token lookup is not a report's connection.
    app = create_app(settings.model_copy(update={"report_wait_s": 300, "token_cache_s": 600}))
    main, reports = PoolWatch(app.state.engine), PoolWatch(app.state.reports.engine)
    regulator = await token("regulator", area_code="530111")
    operator = await token("operator")
    elder_id = october.elders["张桂英"]

    async def download(client, i: int, role: str = "report") -> httpx.Response:
        ROLE.set(role)
        path, fmt = ("monthly", "pdf") if i % 25 == 3 else DOWNLOADS[i % len(DOWNLOADS)]
        return await client.get(f"/api/v1/reports/{path}", params={"month": MONTH, "format": fmt}, headers=regulator)

    async def create(client) -> httpx.Response:
        ROLE.set("intake")
        await asyncio.sleep(0)  # let the downloads start first
        return await client.post("/api/v1/requests", json={"elder_id": elder_id, "service": "clean"}, headers=operator)

    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=300
        ) as client:
            # In tasks of their own, so that their roles stay theirs: tokens are remembered from here on.
            assert (await asyncio.create_task(download(client, 0, "warm-up"))).status_code == 200
            assert (await asyncio.create_task(create(client))).status_code == 201
            work = [download(client, i) for i in range(50)] + [create(client) for _ in range(30)]
            answers = await asyncio.gather(*work)
    finally:
        await app.state.reports.close()
        await app.state.engine.dispose()
    downloads, creates = answers[:50], answers[50:]
    assert [r.status_code for r in creates] == [201] * 30
    assert [r.status_code for r in downloads] == [200] * 50, [r.text[:200] for r in downloads if r.status_code != 200]
    assert main.total["report"] == 0  # not one connection of the main pool ever served a report
    assert main.total["intake"] >= 30
    assert 0 < reports.most["report"] <= settings.report_concurrency
    assert reports.total["intake"] == 0


async def test_a_download_that_finds_the_lane_full_gets_503_with_retry_after(settings, db, token):
    await build_october(db)
    app = create_app(settings.model_copy(update={"report_concurrency": 1, "report_wait_s": 0}))
    regulator = await token("regulator", area_code="530111")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            async with app.state.reports.slot():  # the lane's only turn, taken
                busy = await client.get("/api/v1/reports/monthly", params={"month": MONTH}, headers=regulator)
            after = await client.get("/api/v1/reports/monthly", params={"month": MONTH}, headers=regulator)
    finally:
        await app.state.reports.close()
        await app.state.engine.dispose()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert "retry the download shortly" in busy.json()["detail"]
    assert after.status_code == 200


async def test_report_sessions_cannot_write(app, db):
    from sqlalchemy import text

    async with app.state.reports.sessions() as session:
        with pytest.raises(Exception, match="read-only|readonly"):
            await session.exec(text("DELETE FROM area"))


def test_a_long_report_is_sealed_a_slice_at_a_time_with_the_same_digest():
    """The exceptions report hashes its items a slice at a time (in a worker thread, beside the event loop):
    the bytes hashed, and so the digest, are those of the whole canonical JSON."""
    from datetime import UTC, datetime

    from service.reports.digest import SLICE, content_sha256
    from service.reports.schemas import AreaRef
    from service.reports.visit_exceptions import ExceptionRow, ExceptionsReport

    at = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
    items = [
        ExceptionRow(
            visit_id=i,
            request_id=i,
            service="clean",
            provider_id=1,
            provider_name='康乐"服务"',
            caregiver=None,
            elder_id=i,
            elder_name="张*英",
            area_code="530111001001",
            check_in_at=at,
            check_out_at=None,
            duration_minutes=12.5,
            check_in_distance_m=None,
            check_out_distance_m=3.25,
            status="exception",
            exceptions=["off_site"],
            exception_labels=["不在老人家中"],
        )
        for i in range(2 * SLICE + 7)
    ]
    for count in (0, 1, SLICE, len(items)):
        report = ExceptionsReport(
            area=AreaRef(code="530111", name="官渡区"),
            month="2026-10",
            timezone="Asia/Shanghai",
            generated_at=at,
            total=count,
            items=items[:count],
            sha256="",
        )
        assert content_sha256(report, long="items") == content_sha256(report)
