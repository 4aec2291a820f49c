"""The proactive-care list for a day, computed on request.

An active elder is on it when (a) living alone or aged 80+ and nobody was in touch — no visit checked in, no
follow-up call, no call that reached the elder — for `days` days before the list's moment; (b) one of the
elder's devices is silent; (c) it is the elder's birthday. The list's moment is now for today, the end of
the day for a past day (a device's silence then is judged on its latest heartbeat, which may be later).
Keyset by elder id; each test is an indexed EXISTS per elder (visit.elder_id, call_record(elder_id, at),
device(status, last_seen_at)).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.calls.service import calls_between, last_reached, reached_since
from service.db import utcnow
from service.devices.service import silent_device_of, silent_devices
from service.elders.models import Elder
from service.errors import Invalid
from service.identity import mask_phone
from service.proactive.schemas import CareItem, ElderToCare, SilentDevice
from service.proactive.targets import age_on, birthday_on, in_target_group, is_birthday
from service.reports.scope import ReportArea
from service.settings import Settings
from service.visits.models import FollowUp, Visit


def moment_of(day: date, settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(start of the day, the list's moment) in UTC; a day after today is 422."""
    start = datetime.combine(day, time(), settings.tz)
    end = start + timedelta(days=1)
    if start > now:
        raise Invalid.field("date", "is after today (Asia/Shanghai)")
    return start, min(end, now)


def _no_contact(since: datetime, until: datetime):
    visited = exists().where(Visit.elder_id == Elder.id, col(Visit.check_in_at) >= since,
                             col(Visit.check_in_at) < until)
    followed_up = exists().where(FollowUp.visit_id == Visit.id, Visit.elder_id == Elder.id,
                                 col(FollowUp.created_at) >= since, col(FollowUp.created_at) < until)
    return and_(~visited, ~followed_up, ~reached_since(Elder.id, since, until))


async def _last_contacts(session: AsyncSession, ids: Sequence[int], until: datetime) -> dict[int, datetime]:
    latest = dict(await last_reached(session, ids, until))
    visits = select(Visit.elder_id, func.max(Visit.check_in_at)).where(
        col(Visit.elder_id).in_(ids), col(Visit.check_in_at) < until).group_by(Visit.elder_id)
    follow_ups = select(Visit.elder_id, func.max(FollowUp.created_at)).join(
        Visit, col(Visit.id) == FollowUp.visit_id).where(
        col(Visit.elder_id).in_(ids), col(FollowUp.created_at) < until).group_by(Visit.elder_id)
    for query in (visits, follow_ups):
        for elder_id, at in (await session.exec(query)).all():
            if at is not None and (elder_id not in latest or at > latest[elder_id]):
                latest[elder_id] = at
    return latest


async def care_list(session: AsyncSession, settings: Settings, *, day: date, days: int, area: ReportArea,
                    after: int | None, limit: int, now: datetime | None = None) -> tuple[datetime, list[CareItem]]:
    """The list's moment and up to limit + 1 items, by elder id."""
    start, as_of = moment_of(day, settings, now or utcnow())
    since = as_of - timedelta(days=days)
    lonely = and_(in_target_group(day), _no_contact(since, as_of))
    silent = silent_device_of(Elder.id, as_of, settings)
    query = select(Elder.id, Elder.name, Elder.phone, Elder.area_code, Elder.living_alone, Elder.id_number,
                   lonely, silent).where(Elder.status == "active", or_(lonely, silent, birthday_on(day)))
    if area.prefixes:
        query = query.where(area.covers(col(Elder.area_code)))
    if after is not None:
        query = query.where(col(Elder.id) > after)
    rows = (await session.exec(query.order_by(Elder.id).limit(limit + 1))).all()
    ids = [r[0] for r in rows]
    contacts = await _last_contacts(session, ids, as_of)
    devices = await silent_devices(session, ids, as_of, settings)
    calls = await calls_between(session, ids, start, start + timedelta(days=1))
    items = []
    for elder_id, name, phone, area_code, alone, id_number, is_lonely, is_silent in rows:
        reasons = [reason for reason, on in (("no_contact", is_lonely), ("silent_device", is_silent),
                                             ("birthday", is_birthday(id_number, day))) if on]
        items.append(CareItem(
            elder=ElderToCare(id=elder_id, name=name, phone=mask_phone(phone), area_code=area_code,
                              living_alone=alone, age=age_on(id_number, day)),
            reasons=reasons, last_contact_at=contacts.get(elder_id),
            silent_devices=[SilentDevice.model_validate(d, from_attributes=True) for d in devices.get(elder_id, [])],
            calls=calls.get(elder_id, [])))
    return as_of, items
