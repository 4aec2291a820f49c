"""A hand-built October 2026 in Guandu (530111) where every figure is known in advance.

Entitled elders: 张桂英 (2 visits, 关上), 李秀兰 (1, 关上), 王淑珍 (1, 太和), 赵玉梅 (2, 太和); 刘建国 has no
entitlement (emergencies only) and 陈志强 has died; 黄海 lives in Haikou (460106), outside the area.

October's visits in 530111, by check-in (Asia/Shanghai):
  v1  张桂英 planned  康乐 10-05 09:00  70 min verified         follow-up 5
  v2  张桂英 planned  康乐 10-31 23:30  65 min verified         follow-up 4   (last day, late evening)
  v3  李秀兰 planned  新苗 10-10 10:00  45 min short_duration   follow-up 2 + complaint
  v4  王淑珍 planned  新苗 10-12 14:00  62 min off_site, outside_window (1.2 km from home)
  v6  刘建国 emergency 康乐 10-20 08:25  60 min verified   (called 08:00: answered in 25 min)
  v7  张桂英 emergency 康乐 10-25 20:45  90 min verified   (called 20:00: 45 min)
  v8  王淑珍 ad hoc    康乐 10-30 09:00  still in progress
  v5  赵玉梅 planned  康乐 11-01 00:10  60 min verified -> November, not October
赵玉梅's first planned visit was missed; 李秀兰's emergency on 10-28 was never answered.
September: one verified visit (张桂英, 09-15, 康乐). Quota used in October: 康乐 8/100, 新苗 4/10.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.elders.models import Elder
from service.lifecycle.models import Assignment, QuotaUsage, ServiceRequest
from service.providers.models import Provider, ProviderArea, Station
from service.reports.models import ServicePrice
from service.visits.models import FollowUp, Visit
from tests.factories import id_number, phone

CST = ZoneInfo("Asia/Shanghai")
MONTH = "2026-10"
HOME = (25.0211, 102.7410)


def local(month_day: str, hm: str, year: int = 2026) -> datetime:
    return datetime.fromisoformat(f"{year}-{month_day}T{hm}:00").replace(tzinfo=CST)


@dataclass
class October:
    elders: dict[str, int]
    providers: dict[str, int]
    visits: dict[str, int]


class Builder:
    def __init__(self, session) -> None:
        self.session = session
        self.elder_of: dict[int, int] = {}  # request id -> elder id

    async def add(self, row):
        self.session.add(row)
        await self.session.flush()
        return row

    async def elder(self, name: str, area: str, visits: int, status: str = "active") -> int:
        row = await self.add(
            Elder(
                name=name,
                id_number=id_number(area[:6]),
                phone=phone(),
                address=f"{area} 1号",
                lat=HOME[0],
                lon=HOME[1],
                area_code=area,
                visits_per_month=visits,
                services=["clean"],
                status=status,
            )
        )
        return row.id

    async def provider(self, name: str, area: str, quota: int, start: date) -> int:
        row = await self.add(
            Provider(
                name=name,
                services=["clean", "emergency"],
                monthly_quota=quota,
                contract_start=start,
                contract_end=date(2027, 12, 31),
            )
        )
        self.session.add(Station(provider_id=row.id, name=f"{name}站", lat=HOME[0], lon=HOME[1]))
        self.session.add(ProviderArea(provider_id=row.id, area_code=area))
        return row.id

    async def request(
        self,
        elder_id: int,
        month: str,
        *,
        kind: str = "planned",
        seq: int | None = None,
        urgency: str = "routine",
        service: str = "clean",
        status: str = "completed",
        created_at: datetime | None = None,
    ) -> int:
        created = created_at or local(f"{month[5:]}-01", "00:10", int(month[:4]))
        row = await self.add(
            ServiceRequest(
                elder_id=elder_id,
                service=service,
                urgency=urgency,
                kind=kind,
                status=status,
                month=month,
                seq=seq if kind == "planned" else None,
                channel="plan" if kind == "planned" else "phone",
                created_by="test",
                created_at=created,
                updated_at=created,
            )
        )
        self.elder_of[row.id] = elder_id
        return row.id

    async def visit(
        self,
        request_id: int,
        provider_id: int,
        check_in: datetime,
        minutes: float | None,
        status: str = "verified",
        exceptions: tuple[str, ...] = (),
        distance_m: float = 5.0,
        caregiver: str = "李芳",
    ) -> int:
        assignment = await self.add(
            Assignment(
                request_id=request_id,
                provider_id=provider_id,
                status="completed" if minutes is not None else "accepted",
                caregiver=caregiver,
                offered_at=check_in - timedelta(hours=1),
            )
        )
        check_out = check_in + timedelta(minutes=minutes) if minutes is not None else None
        row = await self.add(
            Visit(
                assignment_id=assignment.id,
                provider_id=provider_id,
                elder_id=self.elder_of[request_id],
                client_visit_id=str(uuid.uuid4()),
                caregiver=caregiver,
                check_in_at=check_in,
                check_in_lat=HOME[0],
                check_in_lon=HOME[1],
                check_in_distance_m=distance_m,
                check_out_at=check_out,
                check_out_lat=HOME[0] if check_out else None,
                check_out_lon=HOME[1] if check_out else None,
                check_out_distance_m=distance_m if check_out else None,
                tasks=["clean"],
                duration_minutes=minutes,
                status=status,
                exceptions=list(exceptions),
                created_at=check_out or check_in,
                updated_at=check_out or check_in,
            )
        )
        return row.id

    async def follow_up(
        self, visit_id: int, satisfaction: int, complaint: str | None = None, at: datetime | None = None
    ) -> None:
        await self.add(
            FollowUp(
                visit_id=visit_id,
                satisfaction=satisfaction,
                complaint=complaint,
                created_by="operator:test",
                created_at=at or local("10-31", "12:00"),
            )
        )


async def build_october(db) -> October:
    async with db() as session:
        b = Builder(session)
        e = {
            "张桂英": await b.elder("张桂英", "530111001001", 2),
            "李秀兰": await b.elder("李秀兰", "530111001002", 1),
            "王淑珍": await b.elder("王淑珍", "530111002001", 1),
            "赵玉梅": await b.elder("赵玉梅", "530111002001", 2),
            "刘建国": await b.elder("刘建国", "530111001001", 0),
            "陈志强": await b.elder("陈志强", "530111001001", 1, status="deceased"),
            "黄海": await b.elder("黄海", "460106001001", 2),
        }
        p = {
            "康乐": await b.provider("康乐养老", "530111", 100, date(2025, 1, 1)),
            "新苗": await b.provider("新苗护理", "530111", 10, date(2026, 9, 1)),
            "椰城": await b.provider("椰城关爱", "460106", 50, date(2025, 1, 1)),
        }
        v = {}
        v["v1"] = await b.visit(await b.request(e["张桂英"], MONTH, seq=1), p["康乐"], local("10-05", "09:00"), 70)
        v["v2"] = await b.visit(await b.request(e["张桂英"], MONTH, seq=2), p["康乐"], local("10-31", "23:30"), 65)
        v["v3"] = await b.visit(
            await b.request(e["李秀兰"], MONTH, seq=1),
            p["新苗"],
            local("10-10", "10:00"),
            45,
            "exception",
            ("short_duration",),
        )
        v["v4"] = await b.visit(
            await b.request(e["王淑珍"], MONTH, seq=1),
            p["新苗"],
            local("10-12", "14:00"),
            62,
            "exception",
            ("off_site", "outside_window"),
            distance_m=1200.0,
            caregiver="=cmd()",
        )
        await b.request(e["赵玉梅"], MONTH, seq=1, status="missed")
        v["v5"] = await b.visit(await b.request(e["赵玉梅"], MONTH, seq=2), p["康乐"], local("11-01", "00:10"), 60)
        called = local("10-20", "08:00")
        v["v6"] = await b.visit(
            await b.request(
                e["刘建国"], MONTH, kind="ad_hoc", urgency="emergency", service="emergency", created_at=called
            ),
            p["康乐"],
            called + timedelta(minutes=25),
            60,
        )
        called = local("10-25", "20:00")
        v["v7"] = await b.visit(
            await b.request(
                e["张桂英"], MONTH, kind="ad_hoc", urgency="emergency", service="emergency", created_at=called
            ),
            p["康乐"],
            called + timedelta(minutes=45),
            90,
        )
        await b.request(
            e["李秀兰"],
            MONTH,
            kind="ad_hoc",
            urgency="emergency",
            service="emergency",
            status="open",
            created_at=local("10-28", "07:00"),
        )
        v["v8"] = await b.visit(
            await b.request(e["王淑珍"], MONTH, kind="ad_hoc", status="in_progress"),
            p["康乐"],
            local("10-30", "09:00"),
            None,
            status="in_progress",
        )
        v["haikou"] = await b.visit(await b.request(e["黄海"], MONTH, seq=1), p["椰城"], local("10-15", "09:00"), 80)
        v["september"] = await b.visit(
            await b.request(e["张桂英"], "2026-09", seq=1), p["康乐"], local("09-15", "09:00"), 75
        )
        await b.follow_up(v["v1"], 5)
        await b.follow_up(v["v2"], 4, at=local("11-01", "10:00"))
        await b.follow_up(v["v3"], 2, "护理员迟到，服务时间太短")
        session.add_all(
            [
                QuotaUsage(provider_id=p["康乐"], month=MONTH, used=8),
                QuotaUsage(provider_id=p["新苗"], month=MONTH, used=4),
            ]
        )
        await session.commit()
    return October(e, p, v)


async def set_prices(db, versions: list[tuple[str, str, int]]) -> None:
    """(service, effective_from, yuan) rows, as the price table's versions."""
    async with db() as session:
        session.add_all(
            ServicePrice(service=s, effective_from=date.fromisoformat(d), unit_price_fen=y * 100, created_by="test")
            for s, d, y in versions
        )
        await session.commit()
