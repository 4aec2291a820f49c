"""The operator's seat: search, the elder card, registering requests, the board, request detail, cancel, and the
follow-up queue; bad input shows Chinese errors beside the field, keeps what was typed and writes nothing."""

from __future__ import annotations

import re

from sqlmodel import select

from service.lifecycle.models import ServiceRequest
from service.visits.models import FollowUp
from tests.console.helpers import csrf, log_in, make_user
from tests.factories import elder_body
from tests.reports.month import build_october


async def _elder(client, token, **fields) -> dict:
    admin = await token("admin")
    response = await client.post("/api/v1/elders", json=elder_body(**fields), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def _seat(client, db):
    await make_user(db, "op", "operator")
    await log_in(client, "op")


async def _requests(db) -> list[ServiceRequest]:
    async with db() as session:
        return list((await session.exec(select(ServiceRequest))).all())


async def test_one_box_finds_by_phone_name_or_the_end_of_an_id_number(client, db, token):
    elder = await _elder(client, token, name="张桂英", phone="13912345678")
    await _elder(client, token, name="张秀兰")
    await _seat(client, db)
    admin_view = (await client.get(f"/api/v1/elders/{elder['id']}", headers=await token("admin"))).json()
    tail = admin_view["id_number"][-6:]
    for query in ("13912345678", "139 1234 5678", "张桂", "桂英", tail, tail[-4:]):
        response = await client.get("/console/seat", params={"q": query})
        assert response.status_code == 303 and response.headers["location"] == f"/console/elders/{elder['id']}", query
    both = await client.get("/console/seat", params={"q": "张"})
    assert both.status_code == 200 and "张桂英" in both.text and "张秀兰" in both.text
    fragment = await client.get("/console/seat/search", params={"q": "没有这个人"})
    assert "没有找到" in fragment.text and "<html" not in fragment.text
    seat = await client.get("/console/seat")
    assert 'id="search"' in seat.text and "autofocus" in seat.text and 'hx-trigger="load, every 1s"' in seat.text


async def test_the_card_masks_the_id_number_and_shows_the_entitlement(client, db, token):
    elder = await _elder(client, token, name="李秀兰", visits_per_month=2)
    await _seat(client, db)
    page = await client.get(f"/console/elders/{elder['id']}")
    assert page.status_code == 200
    assert elder["id_number"] not in page.text  # whole for admins only, as in the API
    assert elder["id_number"][:6] + "*" * 8 + elder["id_number"][-4:] in page.text
    assert "每月 2 次上门" in page.text and " 岁" in page.text
    assert (await client.get("/console/elders/999999")).status_code == 404
    assert (await client.get("/console/elders/abc")).status_code == 404


async def test_an_emergency_in_one_action_and_a_double_click_makes_one_request(client, db, token):
    elder = await _elder(client, token)
    await _seat(client, db)
    card = await client.get(f"/console/elders/{elder['id']}")
    key = re.search(r'name="key" value="([^"]+)"', card.text).group(1)
    form = {"csrf": await csrf(client), "key": key, "service": "emergency", "urgency": "emergency", "note": "摔倒"}
    first = await client.post(f"/console/elders/{elder['id']}/requests", data=form)
    second = await client.post(f"/console/elders/{elder['id']}/requests", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    rows = await _requests(db)
    assert len(rows) == 1 and rows[0].urgency == "emergency" and rows[0].created_by == "operator:op"
    detail = await client.get(first.headers["location"])
    assert detail.status_code == 200 and "时间线" in detail.text and "待派" in detail.text
    board = await client.get("/console/board")
    assert f'data-request="{rows[0].id}"' in board.text and "data-since" in board.text


async def test_a_refused_request_form_keeps_its_values_and_writes_nothing(client, db, token):
    elder = await _elder(client, token)
    await _seat(client, db)
    token_ = await csrf(client)
    response = await client.post(
        f"/console/elders/{elder['id']}/requests",
        data={"csrf": token_, "service": "massage", "urgency": "routine", "note": "请下午来"},
    )
    assert response.status_code == 422 and "请选择列表中的一项" in response.text and "请下午来" in response.text
    response = await client.post(
        f"/console/elders/{elder['id']}/requests",
        data={"csrf": token_, "service": "clean", "urgency": "routine", "note": "长" * 501},
    )
    assert response.status_code == 422 and 'class="field-error"' in response.text
    response = await client.post("/console/elders/999999/requests", data={"csrf": token_, "service": "clean"})
    assert response.status_code == 404
    assert await _requests(db) == []


async def test_cancel_from_the_detail_page(client, db, token):
    elder = await _elder(client, token)
    await _seat(client, db)
    token_ = await csrf(client)
    made = await client.post(
        f"/console/elders/{elder['id']}/requests", data={"csrf": token_, "service": "clean", "urgency": "routine"}
    )
    path = made.headers["location"]
    blank = await client.post(f"{path}/cancel", data={"csrf": token_, "reason": "  "})
    assert blank.status_code == 422 and "取消原因" in blank.text
    assert (await client.post(f"{path}/cancel", data={"csrf": token_, "reason": "家属已处理"})).status_code == 303
    assert (await _requests(db))[0].status == "cancelled"
    again = await client.post(f"{path}/cancel", data={"csrf": token_, "reason": "再取消"})
    assert again.status_code == 409 and "不能取消" in again.text
    assert (await client.get("/console/requests/999999")).status_code == 404


async def test_the_follow_up_queue_records_satisfaction_and_complaints(client, db):
    october = await build_october(db)
    await _seat(client, db)
    assert (await client.get("/console/follow-ups")).status_code == 200
    assert (await client.get("/console/follow-ups?month=2026-13")).status_code == 404
    queue = await client.get("/console/follow-ups?month=2026-10")
    visit = october.visits["v4"]
    assert f'id="visit-{visit}"' in queue.text
    token_ = await csrf(client)
    bad = await client.post(
        f"/console/follow-ups/{visit}",
        data={"csrf": token_, "satisfaction": "9", "complaint": "迟到", "month": "2026-10"},
    )
    assert bad.status_code == 422 and "数值太大" in bad.text and 'value="迟到"' in bad.text
    good = await client.post(
        f"/console/follow-ups/{visit}", data={"csrf": token_, "satisfaction": "2", "complaint": "护理员迟到半小时"}
    )
    assert good.status_code == 303 and good.headers["location"].endswith(f"done={visit}")
    again = await client.post(f"/console/follow-ups/{visit}", data={"csrf": token_, "satisfaction": "5"})
    assert again.status_code == 422
    async with db() as session:
        rows = (await session.exec(select(FollowUp).where(FollowUp.visit_id == visit))).all()
    assert [(r.satisfaction, r.complaint, r.created_by) for r in rows] == [(2, "护理员迟到半小时", "operator:op")]
    assert (
        await client.post("/console/follow-ups/999999", data={"csrf": token_, "satisfaction": "4"})
    ).status_code in (404, 422)
