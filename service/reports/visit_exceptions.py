"""The exceptions report (异常上门明细): every visit of the month that is not verified, and why.

Regulators follow these up with providers, so each row names the provider and caregiver, the
times and distances from home; the elder appears only by id, masked name and community.
"""

from __future__ import annotations

from datetime import datetime

import anyio
from pydantic import BaseModel, Field
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import utcnow
from service.elders.models import Elder
from service.lifecycle.models import ServiceRequest
from service.providers.models import Provider
from service.reports.digest import sealed
from service.reports.figures import visit_requests
from service.reports.labels import exception_label
from service.reports.schemas import SHA256_OF, AreaRef
from service.reports.scope import ReportArea, require_begun
from service.reports.sql import tune_for_reports
from service.settings import Settings
from service.visits.models import Visit


def mask_name(name: str) -> str:
    """张桂英 -> 张*英, 李明 -> 李*: enough to tell two elders apart on a page, not to identify one."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


class ExceptionRow(BaseModel):
    visit_id: int
    request_id: int
    service: str
    provider_id: int
    provider_name: str
    caregiver: str | None
    elder_id: int
    elder_name: str = Field(description="Masked")
    area_code: str
    check_in_at: datetime
    check_out_at: datetime | None
    duration_minutes: float | None
    check_in_distance_m: float | None = Field(description="Metres from the elder's home")
    check_out_distance_m: float | None
    status: str = Field(description="exception, or in_progress (not checked out)")
    exceptions: list[str]
    exception_labels: list[str]


class ExceptionsReport(BaseModel):
    title: str = "异常上门明细"
    area: AreaRef
    month: str
    timezone: str
    generated_at: datetime
    total: int
    items: list[ExceptionRow]
    sha256: str = Field(description=SHA256_OF)


def _metres(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def exceptions_report(
    session: AsyncSession, area: ReportArea, month: str, settings: Settings, now: datetime | None = None
) -> ExceptionsReport:
    now = now or utcnow()
    tz = settings.tz
    start, end = require_begun(month, tz, now)
    await tune_for_reports(session)
    query = (
        visit_requests(
            area,
            Visit.id,
            ServiceRequest.id,
            ServiceRequest.service,
            Visit.provider_id,
            Provider.name,
            Visit.caregiver,
            Elder.id,
            Elder.name,
            Elder.area_code,
            Visit.check_in_at,
            Visit.check_out_at,
            Visit.duration_minutes,
            Visit.check_in_distance_m,
            Visit.check_out_distance_m,
            Visit.status,
            Visit.exceptions,
            during=(start, end),
        )
        .join(Provider, col(Provider.id) == Visit.provider_id)
        .where(Visit.status != "verified")
        .order_by(Visit.check_in_at, Visit.id)
    )
    # Tens of thousands of rows at city scale: read as plain rows (the ORM's loading would cost the event loop
    # a few hundred ms), then shaped into models and sealed, a second of Python, in a worker thread so that
    # the event loop goes on serving intake meanwhile (lane.py).
    rows = (await (await session.connection()).execute(query)).all()
    return await anyio.to_thread.run_sync(_assemble, rows, area, month, settings, now)


def _assemble(rows, area: ReportArea, month: str, settings: Settings, now: datetime) -> ExceptionsReport:
    tz = settings.tz
    items = []
    for (
        visit_id,
        request_id,
        service,
        provider_id,
        provider_name,
        caregiver,
        elder_id,
        elder_name,
        area_code,
        check_in,
        check_out,
        minutes,
        in_m,
        out_m,
        status,
        codes,
    ) in rows:
        items.append(
            ExceptionRow(
                visit_id=visit_id,
                request_id=request_id,
                service=service,
                provider_id=provider_id,
                provider_name=provider_name,
                caregiver=caregiver,
                elder_id=elder_id,
                elder_name=mask_name(elder_name),
                area_code=area_code,
                check_in_at=check_in.astimezone(tz),
                check_out_at=check_out.astimezone(tz) if check_out else None,
                duration_minutes=None if minutes is None else round(minutes, 1),
                check_in_distance_m=_metres(in_m),
                check_out_distance_m=_metres(out_m),
                status=status,
                exceptions=list(codes),
                exception_labels=[exception_label(c) for c in codes],
            )
        )
    return sealed(
        ExceptionsReport(
            area=AreaRef(code=area.code, name=area.name),
            month=month,
            timezone=settings.timezone,
            generated_at=now.astimezone(tz),
            total=len(items),
            items=items,
            sha256="",
        ),
        long="items",
    )
