"""Provider quality: monthly scores (admins and regulators), assessment and reinstatement (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, literal, or_
from sqlmodel import col, select

from service.auth import Admin, Supervisor
from service.db import utcnow
from service.deps import SessionDep, SettingsDep
from service.providers.models import Provider, ProviderArea
from service.providers.schemas import ProviderPublic
from service.providers.service import public_one
from service.quality import service
from service.quality.models import ProviderQuality
from service.reports.scope import report_area
from service.validation import Body, IdPath, Month

router = APIRouter(prefix="/api/v1", tags=["quality"])


class QualityPublic(BaseModel):
    provider_id: int
    provider_name: str
    provider_status: str
    month: str
    visits: int
    verified_rate: float | None
    exception_rate: float | None
    mean_satisfaction: float | None
    emergency_on_time_rate: float | None
    complaints: int = Field(
        description="Complaint tickets about the provider opened in the month; each per "
        "visit takes points off the score (service/quality/scoring.py)"
    )
    score: float | None
    below_threshold: bool
    low_run: int
    suspended: bool
    assessed_at: datetime


class AssessBody(Body):
    month: Month


async def _public(session, rows: list[ProviderQuality]) -> list[QualityPublic]:
    ids = [r.provider_id for r in rows]
    found = await session.exec(select(Provider).where(col(Provider.id).in_(ids)))
    providers = {p.id: p for p in found.all()}
    return [
        QualityPublic(
            **r.model_dump(),
            provider_name=providers[r.provider_id].name,
            provider_status=providers[r.provider_id].status,
        )
        for r in rows
    ]


@router.get(
    "/quality",
    response_model=list[QualityPublic],
    responses={403: {"description": "Wrong role, or an area outside the regulator's own"}},
)
async def list_quality(
    session: SessionDep, principal: Supervisor, month: Annotated[Month, Query()]
) -> list[QualityPublic]:
    """The month's scores, lowest first; a regulator sees the providers contracted in its area."""
    query = (
        select(ProviderQuality)
        .where(ProviderQuality.month == month)
        .order_by(col(ProviderQuality.score).is_(None), ProviderQuality.score, ProviderQuality.provider_id)
    )
    if principal.role == "regulator":
        area = await report_area(session, principal, None)
        code = ProviderArea.area_code
        # Contracted here: a contract code lies under the area, or covers it from above.
        covering = select(ProviderArea.provider_id).where(
            or_(
                *(
                    or_(code.startswith(prefix), func.substr(literal(prefix), 1, func.length(code)) == code)
                    for prefix in area.prefixes
                )
            )
        )
        query = query.where(col(ProviderQuality.provider_id).in_(covering))
    return await _public(session, list((await session.exec(query)).all()))


@router.post(
    "/quality/assessments",
    response_model=list[QualityPublic],
    responses={409: {"description": "The month is not over yet"}},
)
async def assess(body: AssessBody, session: SessionDep, _: Admin, settings: SettingsDep) -> list[QualityPublic]:
    """Score every provider for a finished month; suspend those low for too many months running."""
    rows = await service.assess_month(session, body.month, settings, now=utcnow())
    return await _public(session, rows)


@router.post(
    "/providers/{provider_id}/reinstate",
    response_model=ProviderPublic,
    responses={404: {"description": "No such provider"}, 409: {"description": "The provider is not suspended"}},
)
async def reinstate(
    provider_id: IdPath, body: service.ReinstateBody, session: SessionDep, principal: Admin
) -> ProviderPublic:
    """Let a suspended provider receive work again (the reason is kept in the audit log)."""
    provider = await service.reinstate(session, provider_id, body.reason, principal.actor, utcnow())
    return await public_one(session, provider)
