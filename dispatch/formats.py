"""docs/dispatch.md's JSON formats <-> the model. Reading and writing files happens outside dispatch.

Elders are parsed column by column straight into numpy arrays: a city has 300,000 of them, and one
pass per field costs far less than building an object per elder.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import numpy as np

from dispatch.model import (
    UNASSIGNED_REASONS,
    ElderTable,
    Instance,
    Plan,
    Policy,
    Provider,
    Station,
)

# A parsed JSON document: its values are whatever json.load gives.
Document = dict[str, Any]
KM_DECIMALS = 6  # millimetres: the checker recomputes distances, and rounding must not fool it


def instance_from_dict(document: Document) -> Instance:
    policy = document["policy"]
    providers = tuple(provider_from_dict(p) for p in document["providers"])
    return Instance(
        month=str(document["month"]),
        policy=Policy(float(policy["max_km"]), float(policy.get("continuity_bonus_km") or 0.0)),
        elders=elders_from_dicts(document["elders"]),
        providers=providers,
    )


def provider_from_dict(provider: Document) -> Provider:
    return Provider(
        id=str(provider["id"]),
        quota=int(provider["quota"]),
        services=frozenset(provider["services"]),
        areas=tuple(str(a) for a in provider["areas"]),
        stations=tuple(Station(float(s["lat"]), float(s["lon"])) for s in provider["stations"]),
    )


def elders_from_dicts(elders: list[Document]) -> ElderTable:
    count = len(elders)
    # Elders share a handful of service sets, area codes and previous providers: one object each,
    # so the engine can group by identity and the parsed document's copies can all be freed.
    # (map with itemgetter runs the loop in C: a city has a million elders.)
    service_sets: dict[tuple[str, ...], frozenset[str]] = {}
    services = [
        service_sets.get(key) or service_sets.setdefault(key, frozenset(key))
        for key in map(tuple, map(itemgetter("services"), elders))
    ]
    area_codes: dict[str, str] = {}
    areas = [area_codes.setdefault(a, a) for a in map(str, map(itemgetter("area"), elders))]
    provider_ids: dict[str | None, str | None] = {}
    previous = [provider_ids.setdefault(p, p) for p in (e.get("previous_provider") for e in elders)]
    return ElderTable.from_columns(
        ids=_fresh_strings(list(map(str, map(itemgetter("id"), elders)))),
        lat=np.fromiter(map(itemgetter("lat"), elders), np.float64, count),
        lon=np.fromiter(map(itemgetter("lon"), elders), np.float64, count),
        areas=areas,
        visits=np.fromiter(map(itemgetter("visits"), elders), np.float64, count),  # the model checks them
        services=services,
        previous_providers=previous,
    )


def _fresh_strings(values: list[str]) -> list[str]:
    """New string objects equal to these. The ids are the one per-elder string the engine keeps;
    parsed ones sit scattered among the document's objects and would pin the memory of the whole
    parsed document after it is dropped, fresh ones are packed together."""
    fresh = "\x00".join(values).split("\x00") if values else []
    return fresh if len(fresh) == len(values) else values  # an id holding the separator: keep them


def plan_to_dict(plan: Plan) -> Document:
    ids, visits = plan.elders.ids, plan.elders.visits.tolist()
    assigned = np.flatnonzero(plan.provider >= 0).tolist()
    unassigned = np.flatnonzero(plan.provider < 0).tolist()
    provider, km, reason = plan.provider.tolist(), np.round(plan.km, KM_DECIMALS).tolist(), plan.unassigned_reason
    document = {
        "month": plan.month,
        "assignments": [
            {"elder": ids[i], "provider": plan.provider_ids[provider[i]], "visits": visits[i], "km": km[i]}
            for i in assigned
        ],
        "unassigned": [
            {"elder": ids[i], "visits": visits[i], "reason": UNASSIGNED_REASONS[reason[i]]} for i in unassigned
        ],
        "visits_assigned": plan.visits_assigned,
        "cost": round(plan.cost, KM_DECIMALS),
        "solve_seconds": round(plan.solve_seconds, 3),
    }
    if plan.quality is not None:
        q = plan.quality
        document["quality"] = {
            "visits_upper_bound": q.visits_upper_bound,
            "cost_lower_bound": round(q.cost_lower_bound, KM_DECIMALS),
            "cost_gap": q.cost_gap,
        }
    return document
