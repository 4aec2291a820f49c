"""Monthly plans on demand (the scheduler also runs one on the 1st at 00:10, Asia/Shanghai)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.auth import Admin, Staff
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.dispatching.faults import describe
from service.dispatching.models import DispatchPlan
from service.dispatching.plans import check_plannable, claim_plan, operator_error, run_claimed
from service.errors import Conflict, NotFound
from service.validation import Body, Month

router = APIRouter(prefix="/api/v1/plans", tags=["dispatch"])
log = logging.getLogger("homecare.plans")


class PlanRequest(Body):
    month: Month = Field(description="The current or the next month (Asia/Shanghai); a past one only with force")
    force: bool = Field(
        default=False,
        description="Plan a month already past (a catch-up after an outage); "
        "its offers go to the providers' apps at once. Audited.",
    )


class PlanPublic(BaseModel):
    month: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None = Field(description="Why a failed plan stopped, in plain words (details in the log)")
    summary: dict[str, Any] | None


def _public(plan: DispatchPlan) -> PlanPublic:
    public = PlanPublic.model_validate(plan, from_attributes=True)
    return public.model_copy(update={"error": operator_error(plan.error)})


@router.post(
    "",
    response_model=PlanPublic,
    status_code=202,
    responses={
        200: {"description": "wait=true: the finished plan", "model": PlanPublic},
        409: {"description": "A plan for this month is already running"},
        422: {"description": "Bad month, or a month neither current nor next without force"},
    },
)
async def start_plan(
    body: PlanRequest,
    request: Request,
    principal: Admin,
    settings: SettingsDep,
    wait: Annotated[bool, Query(description="Answer when the plan is done (200) instead of at once (202)")] = False,
):
    forced = check_plannable(body.month, now=utcnow(), tz=settings.tz, force=body.force)
    sessions = request.app.state.sessions
    # Claimed here, before answering: the answer is this run's record, never the previous run's.
    claimed = await claim_plan(sessions, body.month, forced_by=principal.actor if forced else None)
    if claimed is None:
        raise Conflict(f"a plan for {body.month} is already running")
    if wait:
        plan = await run_claimed(sessions, settings, body.month, actor=principal.actor)
        return JSONResponse(_public(plan).model_dump(mode="json"), status_code=200)

    async def in_background() -> None:
        try:
            await run_claimed(sessions, settings, body.month, actor=principal.actor)
        except Exception as exc:  # the plan's own failure is recorded on it; this is the database away
            log.error("plan %s could not record its end: %s", body.month, describe(exc))
            log.debug("plan failure", exc_info=True)

    task = asyncio.get_running_loop().create_task(in_background())
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)
    return JSONResponse(_public(claimed).model_dump(mode="json"), status_code=202)


@router.get("/{month}", response_model=PlanPublic, responses={404: {"description": "No plan for this month"}})
async def get_plan(month: Annotated[Month, Path()], session: SessionDep, _: Staff) -> PlanPublic:
    plan = await session.get(DispatchPlan, month)
    if plan is None:
        raise NotFound(f"no plan has been run for {month}")
    return _public(plan)
