"""Valid request bodies to start from; each test overrides the one field it is about."""

from __future__ import annotations

import itertools
from typing import Any

from service.identity import id_check_char

_serial = itertools.count(1)


def id_number(region: str = "530111", born: str = "19450315") -> str:
    first17 = f"{region}{born}{next(_serial) % 1000:03d}"
    return first17 + id_check_char(first17)


def phone() -> str:
    return f"139{next(_serial):08d}"


def elder_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "张桂英",
        "id_number": id_number(),
        "phone": phone(),
        "address": "关上街道关上社区 3栋2单元401",
        "location": {"lat": 25.0211, "lon": 102.7410},
        "area_code": "530111001001",
        "visits_per_month": 2,
        "services": ["clean", "companionship"],
    }
    body.update(overrides)
    return body


def provider_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": f"昆明康乐养老服务有限公司{next(_serial)}",
        "stations": [{"name": "关上社区居家养老服务中心", "location": {"lat": 25.025, "lon": 102.745}}],
        "areas": ["530111001"],
        "services": ["clean", "companionship", "emergency"],
        "monthly_quota": 400,
        "contract_start": "2026-01-01",
        "contract_end": "2027-12-31",
    }
    body.update(overrides)
    return body
