"""Monthly plans on demand (the scheduler also runs one on the 1st at 00:10, Asia/Shanghai)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from service.auth import Admin, Staff
from service.deps import SessionDep, SettingsDep
from service.dispatching.models import DispatchPlan
from service.dispatching.plans import run_plan
from service.errors import NotFound
from service.months import MONTH_PATTERN, Month

router = APIRouter(prefix="/api/v1/plans", tags=["dispatch"])
log = logging.getLogger("homecare.plans")


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Month


class PlanPublic(BaseModel):
    month: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    summary: dict[str, Any] | None


def _public(plan: DispatchPlan) -> PlanPublic:
    return PlanPublic.model_validate(plan, from_attributes=True)


@router.post("", response_model=PlanPublic, status_code=202,
             responses={200: {"description": "wait=true: the finished plan", "model": PlanPublic},
                        422: {"description": "Bad month"}})
async def start_plan(
    body: PlanRequest, request: Request, session: SessionDep, principal: Admin, settings: SettingsDep,
    wait: Annotated[bool, Query(description="Answer when the plan is done (200) instead of at once (202)")] = False,
):
    sessions = request.app.state.sessions
    if wait:
        await run_plan(sessions, settings, body.month, actor=principal.actor)
        plan = await session.get(DispatchPlan, body.month, populate_existing=True)
        return JSONResponse(_public(plan).model_dump(mode="json"), status_code=200)

    async def in_background() -> None:
        try:
            await run_plan(sessions, settings, body.month, actor=principal.actor)
        except Exception:
            log.exception("plan %s failed", body.month)

    task = asyncio.get_running_loop().create_task(in_background())
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)
    await asyncio.sleep(0)  # let the run claim the month before we read its state
    plan = await session.get(DispatchPlan, body.month, populate_existing=True)
    if plan is None:
        plan = DispatchPlan(month=body.month)
    return JSONResponse(_public(plan).model_dump(mode="json"), status_code=202)


@router.get("/{month}", response_model=PlanPublic, responses={404: {"description": "No plan for this month"}})
async def get_plan(month: Annotated[str, Path(pattern=MONTH_PATTERN)], session: SessionDep, _: Staff) -> PlanPublic:
    plan = await session.get(DispatchPlan, month)
    if plan is None:
        raise NotFound(f"no plan has been run for {month}")
    return _public(plan)
