"""The provider app's API (role provider; only its own objects — others' are 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from service.auth import ProviderApp
from service.db import utcnow
from service.deps import SessionDep, SettingsDep, after_commit
from service.dispatching.wakeup import wake_dispatcher
from service.elders.models import Elder
from service.lifecycle import moves
from service.lifecycle.models import ServiceRequest
from service.pagination import CursorQuery, LimitQuery, decode_cursor, encode_cursor
from service.provider_app.feed import ProviderAssignment, parse_position, pull, to_view
from service.provider_app.stream import LAST_EVENT_ID, read_offers, stream_response
from service.provider_app.stream import parse_position as parse_event_id
from service.schemas import Page
from service.validation import Body, IdPath, Month, Text
from service.visits import service as visits
from service.visits.schemas import BatchResponse, CheckOut, VisitPublic, VisitStart

router = APIRouter(prefix="/api/v1/provider", tags=["provider app"])
NOT_FOUND = {404: {"description": "No such object of yours"}}
CONFLICT = {409: {"description": "The offer expired, was cancelled, or another caregiver took it"}}


class AssignmentFeed(BaseModel):
    items: list[ProviderAssignment]
    next_cursor: str = Field(description="Pass back to get only what changed since this pull")


class AcceptBody(Body):
    caregiver: Text = Field(min_length=1, max_length=50)


class DeclineBody(Body):
    reason: Text = Field(min_length=1, max_length=200)


class VisitBatchBody(Body):
    visits: list[dict[str, Any]] = Field(
        min_length=1, max_length=200, description="Items shaped like POST /provider/visits plus optional check_out"
    )


async def _view(session, assignment) -> ProviderAssignment:
    request = await session.get(ServiceRequest, assignment.request_id)
    return to_view(assignment, request, await session.get(Elder, request.elder_id))


@router.get("/assignments", response_model=AssignmentFeed)
async def list_assignments(
    session: SessionDep,
    principal: ProviderApp,
    status: Annotated[str | None, Query(pattern="^(offered|accepted|declined|expired|cancelled|completed)$")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> AssignmentFeed:
    since = parse_position(decode_cursor(cursor))
    items, next_cursor = await pull(session, principal.provider_id, status=status, since=since, limit=limit)
    return AssignmentFeed(items=items, next_cursor=next_cursor)


SSE_EVENT = {
    "type": "object",
    "properties": {  # one event, as OpenAPI 3.2 describes Server-Sent Events
        "data": {"type": "string"},
        "event": {"type": "string", "enum": ["offer", "ready"]},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
STREAM_DOC = """Server-Sent Events (`text/event-stream`): `offer` events (data: an assignment, as in the feed),
each the moment the offer is committed; one `ready` event once what was missed has been sent; a `: ping`
comment every HOMECARE_FEED_HEARTBEAT_S. Reconnect with the last event id (`Last-Event-ID`, as EventSource
does, or `?last_event=`) to get exactly the offers made meanwhile; without one the stream starts with
the offers open now. See docs/api.md § Provider app."""


@router.get(
    "/offers/stream",
    response_class=EventSourceResponse,
    description=STREAM_DOC,
    responses={
        200: {
            "description": "The stream: `offer` and `ready` events, `: ping` comments",
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT}},
        },
        429: {"description": "This token already has HOMECARE_FEED_MAX_PER_TOKEN open streams here (Retry-After)"},
    },
)
async def offer_stream(
    request: Request,
    principal: ProviderApp,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias=LAST_EVENT_ID, max_length=100_000)] = None,
    last_event: Annotated[
        str | None,
        Query(max_length=100_000, description="The same as Last-Event-ID, for clients that cannot set headers"),
    ] = None,
) -> EventSourceResponse:
    """New offers pushed to the app (Server-Sent Events), resumable without loss or repetition."""
    position = parse_event_id(last_event_id) if last_event_id else parse_event_id(last_event, "last_event")
    hub, sessions = request.app.state.offer_hub, request.app.state.sessions
    waiter = hub.open(principal.provider_id, principal.token_id, settings.feed_max_per_token)
    try:  # what was missed, read before the answer starts: a database away is a 503 like any read's
        first = await read_offers(sessions, principal.provider_id, position)
    except BaseException:
        hub.close_stream(waiter)
        raise
    return stream_response(hub, settings, waiter, first, resumed=position is not None)


@router.post(
    "/assignments/{assignment_id}/accept", response_model=ProviderAssignment, responses={**NOT_FOUND, **CONFLICT}
)
async def accept(assignment_id: IdPath, body: AcceptBody, session: SessionDep, principal: ProviderApp):
    assignment = await moves.accept(
        session, assignment_id, principal.provider_id, body.caregiver, actor=principal.actor, now=utcnow()
    )
    return await _view(session, assignment)


@router.post(
    "/assignments/{assignment_id}/decline", response_model=ProviderAssignment, responses={**NOT_FOUND, **CONFLICT}
)
async def decline(
    assignment_id: IdPath,
    body: DeclineBody,
    request: Request,
    session: SessionDep,
    principal: ProviderApp,
    settings: SettingsDep,
):
    assignment = await moves.decline(
        session,
        assignment_id,
        principal.provider_id,
        body.reason,
        actor=principal.actor,
        now=utcnow(),
        settings=settings,
    )
    view = await _view(session, assignment)
    after_commit(session, lambda: wake_dispatcher(request.app, emergency=view.urgency == "emergency"))
    return view


@router.get(
    "/visits",
    response_model=Page[VisitPublic],
)
async def list_visits(
    session: SessionDep,
    principal: ProviderApp,
    settings: SettingsDep,
    month: Annotated[Month, Query(description="YYYY-MM: visits begun in it (Asia/Shanghai)")],
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[VisitPublic]:
    """Your caregivers' visits of a month, e.g. to plan new ones around them (or to reconcile offline phones)."""
    position = decode_cursor(cursor, "after")
    rows = await visits.month_visits(
        session, principal.provider_id, month, settings, after=position["after"] if position else None, limit=limit
    )
    next_position = encode_cursor({"after": rows[limit - 1].id}) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_position)


@router.post(
    "/visits",
    response_model=VisitPublic,
    status_code=201,
    responses={
        200: {"description": "The same client_visit_id again: the first visit", "model": VisitPublic},
        409: {"description": "client_visit_id used for another assignment"},
    },
)
async def start_visit(body: VisitStart, session: SessionDep, principal: ProviderApp, settings: SettingsDep):
    visit, created = await visits.check_in(session, principal.provider_id, body, principal, settings)
    public = await visits.public(session, visit)
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if created else 200)


@router.post(
    "/visits/{visit_id}/check-out",
    response_model=VisitPublic,
    responses={**NOT_FOUND, 409: {"description": "Already checked out at another time"}},
)
async def check_out(
    visit_id: IdPath, body: CheckOut, session: SessionDep, principal: ProviderApp, settings: SettingsDep
) -> VisitPublic:
    visit = await visits.check_out(session, principal.provider_id, visit_id, body, principal, settings)
    return await visits.public(session, visit)


@router.post(
    "/visits:batch",
    response_model=BatchResponse,
)
async def upload_batch(
    body: VisitBatchBody, session: SessionDep, principal: ProviderApp, settings: SettingsDep
) -> BatchResponse:
    results = await visits.upload_batch(session, principal.provider_id, body.visits, principal, settings)
    return BatchResponse(results=results)
