"""The operator's seat takes over (issue 14): the escalation queue heads the board, the request page ranks the
candidates, a manual assignment goes through the API's handler; refusals are Chinese beside the field, keep
what was typed and write nothing."""

from __future__ import annotations

import re

from sqlmodel import col, select

from service.dispatching.open_requests import dispatch_open_requests
from service.lifecycle.models import Assignment, ServiceRequest
from service.settings import Settings
from tests.console.helpers import csrf, log_in, make_user
from tests.service.helpers import build_world, new_request, nobody_may_take


async def _state(db, request_id: int) -> tuple[str, list[tuple[int, str]]]:
    async with db() as session:
        status = (await session.exec(select(ServiceRequest.status).where(ServiceRequest.id == request_id))).one()
        offers = (
            await session.exec(
                select(Assignment.provider_id, Assignment.status)
                .where(Assignment.request_id == request_id)
                .order_by(col(Assignment.id))
            )
        ).all()
    return status, [tuple(o) for o in offers]


async def _escalated(client, token, app, db):
    """An emergency nobody may take (both providers suspended): escalated at once by the dispatcher."""
    world = await build_world(client, token)
    await nobody_may_take(client, world)
    request = await new_request(client, world, service="emergency", urgency="emergency", note="摔倒")
    await dispatch_open_requests(app.state.sessions, Settings())
    assert (await _state(db, request["id"]))[0] == "escalated"
    await make_user(db, "op", "operator")
    await log_in(client, "op")
    return world, request["id"]


def _key(page: str) -> str:
    return re.search(r'id="assign".*?name="key" value="([^"]+)"', page, re.S).group(1)


async def test_the_queue_heads_the_board_and_the_operator_assigns_by_hand(client, token, app, db):
    world, request_id = await _escalated(client, token, app, db)
    board = await client.get("/console/board")
    queue = board.text.split('id="escalations"')[1].split('class="board"')[0]
    assert f'data-escalation="{request_id}"' in queue and "张小明" in queue and "13800138000" in queue
    assert "子女·监护人" in queue and "data-since" in queue
    assert 'data-status="escalated"' in board.text  # the column: the board drops no escalated request
    column = board.text.split('data-status="escalated"')[1].split("</section>")[0]
    assert f'data-request="{request_id}"' in column
    page = await client.get(f"/console/requests/{request_id}")
    assert page.status_code == 200 and 'id="candidates"' in page.text and "没有按常规可派的服务商" in page.text
    assert 'id="override"' in page.text and "已升级" in page.text
    key = _key(page.text)
    form = {
        "csrf": await csrf(client),
        "key": key,
        "provider_id": str(world.provider_id),
        "reason": "家属同意，电话确认",
    }
    # Without the override a suspended provider is refused, beside the field, the form kept, nothing written.
    refused = await client.post(f"/console/requests/{request_id}/assign", data=form)
    assert refused.status_code == 422 and "按规则不能接此工单（已停用）" in refused.text
    assert "超出常规范围" in refused.text
    assert 'value="家属同意，电话确认"' in refused.text and f'value="{world.provider_id}"' in refused.text
    assert await _state(db, request_id) == ("escalated", [])
    # The override: assigned; the same form sent twice makes one assignment.
    form["override"] = "1"
    first = await client.post(f"/console/requests/{request_id}/assign", data=form)
    second = await client.post(f"/console/requests/{request_id}/assign", data=form)
    assert first.status_code == second.status_code == 303, first.text
    assert first.headers["location"] == f"/console/requests/{request_id}?assigned=1"
    assert await _state(db, request_id) == ("assigned", [(world.provider_id, "offered")])
    done = await client.get(first.headers["location"])
    assert "已人工指派" in done.text and "已派待接" in done.text
    board = await client.get("/console/board")
    assert f'data-escalation="{request_id}"' not in board.text
    assert f'data-request="{request_id}"' in board.text.split('data-status="assigned"')[1].split("</section>")[0]


async def test_bad_assignments_are_refused_in_chinese_and_write_nothing(client, token, app, db):
    world, request_id = await _escalated(client, token, app, db)
    token_ = await csrf(client)
    path = f"/console/requests/{request_id}/assign"
    blank = await client.post(
        path, data={"csrf": token_, "provider_id": str(world.provider_id), "reason": " ", "override": "1"}
    )
    assert blank.status_code == 422 and 'class="field-error"' in blank.text and "必填" in blank.text
    letters = await client.post(path, data={"csrf": token_, "provider_id": "abc", "reason": "试试"})
    assert letters.status_code == 422 and "须为整数" in letters.text and 'value="试试"' in letters.text
    unknown = await client.post(path, data={"csrf": token_, "provider_id": "999999", "reason": "试试", "override": "1"})
    assert unknown.status_code == 422 and "没有这个服务商" in unknown.text
    no_csrf = await client.post(path, data={"provider_id": str(world.provider_id), "reason": "试试", "override": "1"})
    assert no_csrf.status_code == 403
    assert await _state(db, request_id) == ("escalated", [])
    assert (
        await client.post(
            "/console/requests/999999/assign",
            data={"csrf": token_, "provider_id": str(world.provider_id), "reason": "试试"},
        )
    ).status_code == 404
    # The override is for emergencies only; a cancelled request cannot be assigned (409).
    routine = await new_request(client, world)
    override = await client.post(
        f"/console/requests/{routine['id']}/assign",
        data={"csrf": token_, "provider_id": str(world.provider_id), "reason": "试试", "override": "1"},
    )
    assert override.status_code == 422 and "只有应急工单" in override.text
    assert await _state(db, routine["id"]) == ("open", [])
    cancelled = await client.post(
        f"/console/requests/{routine['id']}/cancel", data={"csrf": token_, "reason": "不需要了"}
    )
    assert cancelled.status_code == 303
    late = await client.post(
        f"/console/requests/{routine['id']}/assign",
        data={"csrf": token_, "provider_id": str(world.provider_id), "reason": "试试"},
    )
    assert late.status_code == 409 and "不能改派" in late.text
    assert await _state(db, routine["id"]) == ("cancelled", [])
