"""Supervision downloads (regulators: their own area only; admins: any), month close and prices."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from service.auth import Admin, Supervisor
from service.catalogue import ServiceCode
from service.deps import SessionDep, SettingsDep
from service.idempotency.service import IdempotencyDep
from service.providers.service import get_provider
from service.reports import closing, prices
from service.reports.delivery import file_response, file_responses, json_response
from service.reports.documents import exceptions_document, settlement_document, summary_document
from service.reports.lane import ReportLaneDep
from service.reports.schemas import MonthlySummary
from service.reports.scope import AreaQuery, report_area
from service.reports.settlement import SettlementReport, settlement
from service.reports.summary import monthly_summary
from service.reports.visit_exceptions import ExceptionsReport, exceptions_report
from service.validation import IdQuery, Month

router = APIRouter(prefix="/api/v1", tags=["reports"])
SCOPE = {403: {"description": "Wrong role, or an area outside the regulator's own"}}
INVALID = {422: {"description": "A parameter is invalid (named in `errors`), or the month has not begun"}}
NO_FONT = {
    503: {
        "description": "PDF asked for, but the CJK font to embed is not installed on the server; "
        "or the report lane is full (Retry-After)"
    }
}
BUSY = {503: {"description": "The report lane is full: retry after Retry-After seconds"}}
MonthQuery = Annotated[Month, Query()]


def _stem(kind: str, area_code: str | None, month: str) -> str:
    return f"{kind}-{area_code or 'all'}-{month}"


# The three downloads run in the report lane (lane.py): a turn, a read-only session that is closed before the
# document is rendered, and rendering inside the turn.
@router.get(
    "/reports/monthly",
    response_model=MonthlySummary,
    responses={**file_responses("csv", "xlsx", "pdf"), **SCOPE, **INVALID, **NO_FONT},
)
async def monthly(
    lane: ReportLaneDep,
    principal: Supervisor,
    settings: SettingsDep,
    month: MonthQuery,
    area: AreaQuery = None,
    fmt: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query(alias="format")] = "json",
):
    """The monthly supervision summary (监管月报); a closed month's is the signed one."""
    async with lane.slot():
        async with lane.sessions() as session:
            scope = await report_area(session, principal, area)
            summary = await monthly_summary(session, scope, month, settings)
        if fmt == "json":
            return json_response(summary)
        stem = _stem("monthly", scope.code, month)
        return await file_response(summary_document(summary), fmt, stem, settings)


@router.get(
    "/reports/exceptions",
    response_model=ExceptionsReport,
    responses={**file_responses("csv"), **SCOPE, **INVALID, **BUSY},
)
async def exceptions(
    lane: ReportLaneDep,
    principal: Supervisor,
    settings: SettingsDep,
    month: MonthQuery,
    area: AreaQuery = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
):
    """Every visit of the month that is not verified, with its exception codes (elders masked)."""
    async with lane.slot():
        async with lane.sessions() as session:
            scope = await report_area(session, principal, area)
            report = await exceptions_report(session, scope, month, settings)
        if fmt == "json":
            return json_response(report)
        stem = _stem("exceptions", scope.code, month)
        return await file_response(exceptions_document(report), fmt, stem, settings)


@router.get(
    "/reports/settlement",
    response_model=SettlementReport,
    responses={**file_responses("csv", "xlsx"), **SCOPE, **INVALID, **BUSY, 404: {"description": "No such provider"}},
)
async def settle(
    lane: ReportLaneDep,
    principal: Supervisor,
    settings: SettingsDep,
    month: MonthQuery,
    provider_id: IdQuery = None,
    area: AreaQuery = None,
    fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
):
    """Verified visits × unit price per provider, plus late-verified visits of closed months."""
    async with lane.slot():
        async with lane.sessions() as session:
            scope = await report_area(session, principal, area)
            if provider_id is not None:
                await get_provider(session, provider_id)
            report = await settlement(session, scope, month, settings, provider_id=provider_id)
        if fmt == "json":
            return json_response(report)
        stem = _stem("settlement", scope.code, month)
        return await file_response(settlement_document(report), fmt, stem, settings)


@router.post(
    "/reports/closures",
    status_code=201,
    response_model=closing.ClosurePublic,
    responses={**SCOPE, 409: {"description": "Already closed, not over yet, or the Idempotency-Key is in flight"}},
)
async def close_month(
    body: closing.CloseMonth,
    session: SessionDep,
    principal: Supervisor,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Close an area's month: its summary and settlement are frozen and their SHA-256 recorded."""
    return await idempotency.run(
        body, lambda: closing.close_month(session, body, principal, settings), closing.ClosurePublic
    )


@router.get("/reports/closures", response_model=list[closing.ClosurePublic], responses=INVALID)
async def list_closures(
    session: SessionDep,
    principal: Supervisor,
    settings: SettingsDep,
    area: AreaQuery = None,
    month: Annotated[Month | None, Query()] = None,
) -> list[closing.ClosurePublic]:
    """Closed months, those of the regulator's area only."""
    return await closing.list_closures(session, principal, settings, area=area, month=month)


@router.get("/prices", response_model=list[prices.PricePublic], responses=INVALID)
async def list_prices(
    session: SessionDep, _: Supervisor, service: ServiceCode | None = None
) -> list[prices.PricePublic]:
    """Every version of the unit prices, oldest first per service."""
    return await prices.list_prices(session, service)


@router.post(
    "/prices",
    status_code=201,
    response_model=prices.PricePublic,
    responses={
        409: {
            "description": "A version from that day exists, the day lies in a closed month, "
            "or the Idempotency-Key is in flight"
        }
    },
)
async def add_price(
    body: prices.PriceCreate, session: SessionDep, principal: Admin, idempotency: IdempotencyDep
) -> Response:
    """Add a price version effective from a day; earlier days keep their prices."""
    return await idempotency.run(body, lambda: prices.add_price(session, body, principal), prices.PricePublic)
