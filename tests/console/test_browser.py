"""Browser journeys: Debian's Chromium, driven by Playwright, against the live app on each backend.

(6) security, (4) the district regulator's month, (5) the admin's users and tokens, (1) an emergency from the
operator's seat seen live on the board, (2) an emergency nobody can take escalated, then assigned by hand, (3) the
follow-up queue. Each journey saves screenshots of its pages.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pypdf
import pytest

from service.db import utcnow
from service.months import month_of, previous_month
from tests.console.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, LiveServer, Shots
from tests.console.helpers import PASSWORD, make_user
from tests.factories import elder_body, provider_body
from tests.reports.month import MONTH, Builder, build_october

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="`make system-deps` installs chromium")
ZONE = ZoneInfo("Asia/Shanghai")
WAIT_MS = 10_000  # a bound on waiting for the page, not a speed assertion (the board polls every second)


# Module-scoped: the live server's scheduler dispatches whatever is open, so it must be gone before other
# tests run on the same database.
@pytest.fixture(scope="module")
async def live(settings):
    async with LiveServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def chromium():
    async with playwright_api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(chromium, live, db):
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=live.url, accept_downloads=True)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    await context.close()


@pytest.fixture
def backend_name(settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Shots:
    return Shots(tmp_path_factory.mktemp("screenshots"))


async def log_in(page, username: str, password: str = PASSWORD):
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.press("#password", "Enter")


async def test_security_csrf_logout_lock_and_roles(page, db, settings, shots, backend_name):
    await make_user(db, "op", "operator")
    await page.goto("/")
    assert page.url.endswith("/login")
    if backend_name == "sqlite":
        await shots.take(page, "login")
    await log_in(page, "op")
    assert page.url.endswith("/console/seat")
    # a form posted without its CSRF token
    await page.goto("/console/follow-ups")
    async with page.expect_navigation() as navigation:
        await page.evaluate("""() => { const f = document.querySelector('form[action="/logout"]');
                                       f.querySelector('input[name=csrf]').remove(); f.submit(); }""")
    assert (await navigation.value).status == 403
    assert "安全令牌" in await page.inner_text("main")
    # an operator on the regulator's pages
    response = await page.goto("/console/supervision")
    assert response.status == 403 and "无权" in await page.content()
    if backend_name == "sqlite":
        await shots.take(page, "forbidden")
    # the cookie kept from before logging out leads to the login page
    cookies = await page.context.cookies()
    await page.goto("/console/seat")
    await page.click("text=退出")
    await page.wait_for_url(re.compile(r"/login$"))
    await page.context.add_cookies(cookies)
    await page.goto("/console/seat")
    assert "/login" in page.url
    # repeated wrong passwords lock the account, then even the right one is refused
    for _ in range(settings.login_max_failures):
        await log_in(page, "op", "wrong-password")
        assert "用户名或密码错误" in await page.content()
    await log_in(page, "op")
    assert "/login" in page.url and "锁定" in await page.content()


async def test_district_regulator_month_drill_down_downloads_and_close(page, db, shots, backend_name, tmp_path):
    await build_october(db)
    await make_user(db, "district", "regulator", area_code="530111")
    await make_user(db, "street", "regulator", area_code="530111001")
    await log_in(page, "district")
    await page.fill("#month", MONTH)
    await page.press("#month", "Enter")
    await page.wait_for_url(re.compile(r"month=2026-10"))
    assert "监管月报 · 官渡区 · 2026-10" in await page.inner_text("h1")
    if backend_name == "sqlite":
        await shots.take(page, "supervision")
    await page.click("#drill >> text=关上街道")
    await page.wait_for_url(re.compile(r"area=530111001"))
    assert "关上街道" in await page.inner_text("h1")
    await page.goto(f"/console/supervision?month={MONTH}&area=530111")
    files = {}
    for kind, fmt in (("monthly", "xlsx"), ("monthly", "pdf"), ("monthly", "csv")):
        async with page.expect_download() as info:
            await page.click(f"#dl-{kind}-{fmt}")
        download = await info.value
        target = tmp_path / download.suggested_filename
        await download.save_as(target)
        files[fmt] = target.read_bytes()
    assert openpyxl.load_workbook(io.BytesIO(files["xlsx"])).sheetnames
    assert "监管月报" in "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(files["pdf"])).pages)
    assert files["csv"].startswith(b"\xef\xbb\xbf")
    assert ["地区", "官渡区"] in list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    await page.goto("/console/supervision/exceptions?month=2026-10")
    if backend_name == "sqlite":
        await shots.take(page, "exceptions")
    # close last month, after the confirmation of what will be frozen
    last = previous_month(month_of(utcnow(), ZONE))
    await page.goto(f"/console/supervision?month={last}")
    async with page.expect_navigation():
        await page.click("text=关账…")
    assert "将冻结" in await page.inner_text("main")
    if backend_name == "sqlite":
        await shots.take(page, "close-month")
    await page.click("#confirm-close")
    await page.wait_for_url(re.compile(r"/console/supervision\?month="))
    assert "已关账" in await page.inner_text("h1")
    # a street regulator: the district is the 403 page, and its download too
    await page.click("text=退出")
    await log_in(page, "street")
    response = await page.goto(f"/console/supervision?month={MONTH}&area=530111")
    assert response.status == 403 and "辖区" in await page.content()
    response = await page.goto(f"/console/supervision/download/monthly?format=xlsx&month={MONTH}&area=530111")
    assert response.status == 403


async def test_admin_creates_an_operator_and_revokes_a_provider_token(page, db, live, shots, backend_name, token):
    admin_headers = await token("admin")
    async with httpx.AsyncClient(base_url=live.url) as api:
        provider = (await api.post("/api/v1/providers", json=provider_body(), headers=admin_headers)).json()
        app_headers = await token("provider", provider_id=provider["id"])
        assert (await api.get("/api/v1/provider/assignments", headers=app_headers)).status_code == 200
        await make_user(db, "boss", "admin")
        await log_in(page, "boss")
        await page.goto("/console/admin/users")
        await page.fill("#username", "zhang")
        await page.fill("#display_name", "张坐席")
        await page.select_option("#role", "operator")
        await page.fill("#password", "seat-pass-12")
        async with page.expect_navigation():
            await page.click("#new-user button[type=submit]")
        assert "已创建用户 zhang" in await page.inner_text("main")
        if backend_name == "sqlite":
            await shots.take(page, "admin-users")
        await page.goto("/console/admin/tokens")
        row = page.locator("tr", has_text="test-provider")
        async with page.expect_navigation():
            await row.locator("button", has_text="吊销").click()
        assert "已吊销" in await page.locator("tr", has_text="test-provider").inner_text()
        if backend_name == "sqlite":
            await shots.take(page, "admin-tokens")
        assert (await api.get("/api/v1/provider/assignments", headers=app_headers)).status_code == 401
    await page.click("text=退出")
    await log_in(page, "zhang", "seat-pass-12")
    assert page.url.endswith("/console/seat")


async def test_operator_registers_an_emergency_and_the_board_follows_it_live(
    page, db, live, shots, backend_name, token
):
    admin_headers = await token("admin")
    async with httpx.AsyncClient(base_url=live.url) as api:
        elder = (
            await api.post("/api/v1/elders", json=elder_body(name="王淑珍", phone="13987654321"), headers=admin_headers)
        ).json()
        provider = (await api.post("/api/v1/providers", json=provider_body(), headers=admin_headers)).json()
        app_headers = await token("provider", provider_id=provider["id"])
        await make_user(db, "op", "operator")
        await log_in(page, "op")
        assert await page.evaluate("document.activeElement.id") == "search"  # focused on load
        await page.keyboard.type("13987654321")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(rf"/console/elders/{elder['id']}$"))
        assert "王淑珍" in await page.inner_text("#elder-card")
        if backend_name == "sqlite":
            await shots.take(page, "elder-card")
        await page.select_option("#service", "emergency")
        await page.select_option("#urgency", "emergency")
        await page.fill("#note", "老人摔倒，起不来")
        await page.click("#register-button")
        await page.wait_for_url(re.compile(r"/console/requests/\d+$"))
        request_id = int(page.url.rsplit("/", 1)[1])
        await page.goto("/console/seat")
        await page.evaluate("window.stillTheSamePage = true")
        card = f'[data-request="{request_id}"]'
        await page.wait_for_selector(f'section[data-status="assigned"] {card}', timeout=WAIT_MS)
        assert await page.locator(f"{card} .clock").count() == 1  # the emergency's running clock
        if backend_name == "sqlite":
            await shots.take(page, "seat-board")
        offers = (
            await api.get("/api/v1/provider/assignments", params={"status": "offered"}, headers=app_headers)
        ).json()["items"]
        mine = next(o for o in offers if o["request_id"] == request_id)
        accepted = await api.post(
            f"/api/v1/provider/assignments/{mine['id']}/accept", json={"caregiver": "李芳"}, headers=app_headers
        )
        assert accepted.status_code == 200, accepted.text
        await page.wait_for_selector(f'section[data-status="accepted"] {card}', timeout=WAIT_MS)
        assert await page.evaluate("window.stillTheSamePage") is True  # no reload: the board was swapped in
        await page.click(card)
        await page.wait_for_url(re.compile(rf"/console/requests/{request_id}$"))
        assert "已接单" in await page.inner_text("#request-status")
        if backend_name == "sqlite":
            await shots.take(page, "request-detail")


async def test_an_emergency_nobody_can_take_is_escalated_and_the_operator_assigns_it_by_hand(
    page, db, live, shots, backend_name, token
):
    admin_headers = await token("admin")
    async with httpx.AsyncClient(base_url=live.url) as api:
        elder = (
            await api.post(
                "/api/v1/elders",
                json=elder_body(name="陈桂兰", living_alone=True, device_id="YJT-JOURNEY-2"),
                headers=admin_headers,
            )
        ).json()
        await api.post(
            f"/api/v1/elders/{elder['id']}/contacts",
            headers=admin_headers,
            json={"name": "陈小军", "relation": "child", "phone": "13800138000", "guardian": True},
        )
        provider = (
            await api.post("/api/v1/providers", json=provider_body(name="康乐养老（停用）"), headers=admin_headers)
        ).json()
        suspended = await api.patch(
            f"/api/v1/providers/{provider['id']}", json={"status": "suspended"}, headers=admin_headers
        )
        assert suspended.status_code == 200, suspended.text
        await make_user(db, "op", "operator")
        await log_in(page, "op")
        await page.evaluate("window.stillTheSamePage = true")
        # The alarm comes in while the operator watches the board: nobody may take it, so the live
        # dispatcher escalates it at once and the queue shows it without a reload.
        created = await api.post(
            "/api/v1/alerts",
            headers=await token("operator"),
            json={"device_id": "YJT-JOURNEY-2", "kind": "fall", "at": utcnow().isoformat()},
        )
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        item = f'#escalations [data-escalation="{request_id}"]'
        await page.wait_for_selector(item, timeout=WAIT_MS)
        assert await page.evaluate("window.stillTheSamePage") is True
        text = await page.inner_text(item)
        assert "陈桂兰" in text and "跌倒" in text and "陈小军（子女·监护人）13800138000" in text
        assert await page.locator(f"{item} .clock").count() == 1
        assert await page.locator(f'section[data-status="escalated"] [data-request="{request_id}"]').count() == 1
        if backend_name == "sqlite":
            await page.wait_for_timeout(1500)  # let the clock tick, for the picture
            await shots.take(page, "escalation")
        async with page.expect_navigation():
            await page.click(item)
        assert "没有按常规可派的服务商" in await page.inner_text("#candidates")
        await page.fill("#provider_id", str(provider["id"]))
        await page.fill("#assign-reason", "家属同意，电话联系服务商确认可到")
        async with page.expect_navigation():
            await page.click("#assign-button")
        assert "按规则不能接此工单" in await page.inner_text("#assign")  # suspended: refused without the override
        assert await page.input_value("#assign-reason") == "家属同意，电话联系服务商确认可到"
        await page.check("#override")
        async with page.expect_navigation():
            await page.click("#assign-button")
        assert "已人工指派" in await page.inner_text("main")
        assert "已派待接" in await page.inner_text("#request-status")
        await page.goto("/console/seat")
        await page.wait_for_selector(f'section[data-status="assigned"] [data-request="{request_id}"]', timeout=WAIT_MS)
        assert await page.locator(f'[data-escalation="{request_id}"]').count() == 0


async def test_follow_up_queue_records_satisfaction_and_a_complaint(page, db, shots, backend_name):
    now = utcnow()
    month = month_of(now, ZONE)
    async with db() as session:
        b = Builder(session)
        elder = await b.elder("赵玉梅", "530111001001", 1)
        other = await b.elder("刘建国", "530111001002", 1)
        provider = await b.provider("新苗养老", "530111", 10, date.today() - timedelta(days=10))  # new: every visit
        first = await b.visit(
            await b.request(elder, month, seq=1, created_at=now - timedelta(hours=3)),
            provider,
            now - timedelta(hours=2),
            70,
        )
        second = await b.visit(
            await b.request(other, month, seq=1, created_at=now - timedelta(hours=3)),
            provider,
            now - timedelta(hours=2),
            40,
            status="exception",
            exceptions=("short_duration",),
        )
        await session.commit()
    await make_user(db, "op", "operator")
    await log_in(page, "op")
    await page.goto("/console/follow-ups")
    assert await page.locator(f"#visit-{first}").count() == 1 and await page.locator(f"#visit-{second}").count() == 1
    if backend_name == "sqlite":
        await shots.take(page, "follow-ups")
    await page.fill(f"#visit-{first} input[name=satisfaction]", "5")
    await page.click(f"#visit-{first} button")
    await page.wait_for_url(re.compile(rf"done={first}"))
    await page.fill(f"#visit-{second} input[name=satisfaction]", "2")
    await page.fill(f"#visit-{second} input[name=complaint]", "护理员只待了四十分钟")
    await page.click(f"#visit-{second} button")
    await page.wait_for_url(re.compile(rf"done={second}"))
    assert await page.locator(f"#visit-{first}").count() == 0 and await page.locator(f"#visit-{second}").count() == 0
