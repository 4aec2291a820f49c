"""Every write of the console, and every read it shares with the API, goes through here: the API's own
handlers, called with the console user as the caller (`Current.principal`). So a page obeys the same rules,
scopes, masking and Idempotency-Keys as the API, commits where the API commits, and a change to a domain's
service functions needs changing here only, in one place.

The handlers are plain async functions; what FastAPI would inject (a database session, the settings, the
report lane, an Idempotency helper) is passed in by hand.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from service.deps import transaction
from service.escalation import router as escalation_api
from service.followups import router as followups_api
from service.idempotency.service import Idempotency, route_of
from service.providers import router as providers_api
from service.quality import router as quality_api
from service.reports import router as reports_api
from service.requests import router as requests_api
from service.tokens import router as tokens_api
from service.users.service import Current


def database(request: Request) -> AbstractAsyncContextManager[AsyncSession]:
    """A page's one transaction, as an API request's (service/deps.py): services never commit."""
    return transaction(request.app.state.sessions)


def _parsed(response: Response) -> Any:
    return json.loads(response.body)


def _key(request: Request, session, live: Current, key: str | None) -> Idempotency:
    """The form's Idempotency-Key (a hidden field made when the form was drawn): a double click, or a form
    sent again after a dropped answer, makes one request."""
    return Idempotency(route_of(request), session, live.principal.token_id, key or None)


# The operator's seat ------------------------------------------------------------------------------------------


async def register_request(request: Request, live: Current, body: BaseModel, key: str | None) -> dict:
    response = await requests_api.create_request(body, request, live.principal, key or None)
    return _parsed(response) if isinstance(response, Response) else response.model_dump(mode="json")


async def request_detail(request: Request, live: Current, request_id: int) -> tuple[Any, Any]:
    async with database(request) as session:
        detail = await requests_api.get_request(request_id, session, live.principal)
        explanation = await requests_api.explain(request_id, session, live.principal)
    return detail, explanation


async def cancel_request(request: Request, live: Current, request_id: int, body: BaseModel) -> None:
    async with database(request) as session:
        await requests_api.cancel_request(request_id, body, session, live.principal)


async def escalations(request: Request, live: Current) -> list:
    async with database(request) as session:
        return (await escalation_api.escalation_queue(session, live.principal, limit=100)).items


async def candidates(request: Request, live: Current, request_id: int):
    async with database(request) as session:
        return await escalation_api.request_candidates(request_id, session, live.principal, request.app.state.settings)


async def assign(request: Request, live: Current, request_id: int, body: BaseModel, key: str | None) -> dict:
    async with database(request) as session:
        response = await escalation_api.assign(
            request_id,
            body,
            request,
            session,
            live.principal,
            request.app.state.settings,
            _key(request, session, live, key),
        )
    return _parsed(response)


async def follow_up_queue(request: Request, live: Current, month: str | None, area: str | None):
    async with database(request) as session:
        return await followups_api.queue(
            session, live.principal, request.app.state.settings, month=month, area=area, limit=100, cursor=None
        )


async def record_follow_up(request: Request, live: Current, visit_id: int, body: BaseModel, key: str | None):
    async with database(request) as session:
        return await followups_api.record_follow_up(
            visit_id, body, session, live.principal, _key(request, session, live, key)
        )


# The regulator's desk -----------------------------------------------------------------------------------------


async def summary(request: Request, live: Current, month: str, area: str | None) -> dict:
    response = await reports_api.monthly(
        request.app.state.reports, live.principal, request.app.state.settings, month, area, "json"
    )
    return _parsed(response)


async def exceptions(request: Request, live: Current, month: str, area: str | None) -> dict:
    response = await reports_api.exceptions(
        request.app.state.reports, live.principal, request.app.state.settings, month, area, "json"
    )
    return _parsed(response)


async def download(request: Request, live: Current, kind: str, fmt: str, month: str, area: str | None) -> Response:
    """The API's own download, file name and digest included: the console only authorises by session."""
    lane, settings, principal = request.app.state.reports, request.app.state.settings, live.principal
    if kind == "monthly":
        return await reports_api.monthly(lane, principal, settings, month, area, fmt)
    if kind == "exceptions":
        return await reports_api.exceptions(lane, principal, settings, month, area, fmt)
    return await reports_api.settle(lane, principal, settings, month, None, area, fmt)


async def closures(request: Request, live: Current, area: str | None) -> list:
    async with database(request) as session:
        return await reports_api.list_closures(
            session, live.principal, request.app.state.settings, area=area, month=None
        )


async def close_month(request: Request, live: Current, body: BaseModel, key: str | None) -> dict:
    async with database(request) as session:
        response = await reports_api.close_month(
            body, session, live.principal, request.app.state.settings, _key(request, session, live, key)
        )
    return _parsed(response)


async def quality(request: Request, live: Current, month: str) -> list:
    async with database(request) as session:
        return await quality_api.list_quality(session, live.principal, month)


# The admin's pages --------------------------------------------------------------------------------------------


async def tokens(request: Request, live: Current) -> list:
    async with database(request) as session:
        page = await tokens_api.list_tokens(session, live.principal, revoked=None, limit=200, cursor=None)
    return page.items


async def create_token(request: Request, live: Current, body: BaseModel):
    async with database(request) as session:
        return await tokens_api.create_token(body, session, live.principal)


async def revoke_token(request: Request, live: Current, token_id: int):
    async with database(request) as session:
        return await tokens_api.revoke_token(token_id, request, session, live.principal)


async def providers(request: Request, live: Current) -> list:
    async with database(request) as session:
        page = await providers_api.list_providers(
            session, live.principal, area=None, status=None, limit=200, cursor=None
        )
    return page.items


async def update_provider(request: Request, live: Current, provider_id: int, body: BaseModel):
    async with database(request) as session:
        return await providers_api.update_provider(provider_id, body, session, live.principal)


async def reinstate_provider(request: Request, live: Current, provider_id: int, body: BaseModel):
    async with database(request) as session:
        return await quality_api.reinstate(provider_id, body, session, live.principal)


async def prices(request: Request, live: Current) -> list:
    async with database(request) as session:
        return await reports_api.list_prices(session, live.principal, None)


async def add_price(request: Request, live: Current, body: BaseModel, key: str | None) -> dict:
    async with database(request) as session:
        response = await reports_api.add_price(body, session, live.principal, _key(request, session, live, key))
    return _parsed(response)
