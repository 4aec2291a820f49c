"""The benchmark's anchor: a plain OR-Tools min-cost flow over each elder's 8 (--nearest) nearest
eligible providers, written competently but without the engine's tricks. Reads the same instance JSON (the
same json.load as `homecare dispatch solve`), writes a plan in the spec's format.

Plain, but not handicapped: every step is vectorised. Columns come out of the document with
np.fromiter; services and areas are judged once per distinct value; a KD-tree on 3-D unit vectors
gives each elder's nearest stations (rows that run out of stations before finding 8 eligible
providers are asked again with every station, so the 8 really are the nearest); one
SimpleMinCostFlow with the vectorised arc API, flow units = visits, costs in the engine's units
(0.1 m) so neither side gains from coarser rounding. A split 2-visit elder goes whole to the
cheaper of its providers that still has room, else to the other, else it is left unassigned.

    python -m benchmarks.anchor INSTANCE.json -o PLAN.json [--nearest 8]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.spatial import cKDTree

from dispatch.geo import EARTH_RADIUS_KM, unit_vectors

NEAREST = 8
STATIONS_FIRST_LOOK = 24  # measured fastest here: most elders find their 8 among the 24 nearest stations
CHUNK = 65_536  # elders per KD-tree query: keeps the (elders x stations) temporaries small
COST_UNITS_PER_KM = 10_000  # as dispatch/flow.py


def _interned(values) -> tuple[np.ndarray, list]:
    values = list(values)
    index = {value: row for row, value in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), np.int64, len(values)), list(index)


def read_columns(document: dict) -> dict:
    elders, providers = document["elders"], document["providers"]
    n = len(elders)
    ids = {p["id"]: j for j, p in enumerate(providers)}
    service_row, service_sets = _interned(tuple(e["services"]) for e in elders)
    area_row, areas = _interned(e["area"] for e in elders)
    offered = [set(p["services"]) for p in providers]
    prefixes = [tuple(p["areas"]) for p in providers]
    return {
        "lat": np.fromiter((e["lat"] for e in elders), float, n),
        "lon": np.fromiter((e["lon"] for e in elders), float, n),
        "visits": np.fromiter((e["visits"] for e in elders), np.int64, n),
        "previous": np.fromiter((ids.get(e.get("previous_provider"), -1) for e in elders), np.int64, n),
        "service_row": service_row,
        "area_row": area_row,
        "service_fit": np.array([[set(s) <= o for o in offered] for s in service_sets], bool).reshape(
            len(service_sets), len(providers)
        ),
        "area_fit": np.array([[any(a.startswith(x) for x in pre) for pre in prefixes] for a in areas], bool).reshape(
            len(areas), len(providers)
        ),
        "quota": np.array([p["quota"] for p in providers], np.int64),
    }


def nearest_eligible(cols: dict, providers: list, max_km: float, nearest: int = NEAREST):
    """(elder, provider, km) of each elder's `nearest` nearest eligible providers, and which elders
    have no eligible provider at all."""
    owner = np.array([j for j, p in enumerate(providers) for _ in p["stations"]], np.int64)
    points = np.array([(s["lat"], s["lon"]) for p in providers for s in p["stations"]]).reshape(-1, 2)
    n = len(cols["lat"])
    if not len(owner) or not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.ones(n, bool)
    tree = cKDTree(unit_vectors(points[:, 0], points[:, 1]))
    radius = 2 * np.sin(max_km / EARTH_RADIUS_KM / 2) * (1 + 1e-9)
    found = np.zeros(n, np.int64)
    parts = []
    for start in range(0, n, CHUNK):
        rows = np.arange(start, min(n, start + CHUNK))
        xyz = unit_vectors(cols["lat"][rows], cols["lon"][rows])
        elder, provider, km, found[rows], truncated = _look(
            tree, xyz, rows, min(STATIONS_FIRST_LOOK, len(owner)), radius, owner, cols, max_km, nearest
        )
        again = np.flatnonzero(truncated & (found[rows] < nearest))
        if len(again) and len(owner) > STATIONS_FIRST_LOOK:  # ran out of stations, not of providers
            keep = ~np.isin(elder, rows[again])
            parts.append((elder[keep], provider[keep], km[keep]))
            elder, provider, km, found[rows[again]], _ = _look(
                tree, xyz[again], rows[again], len(owner), radius, owner, cols, max_km, nearest
            )
        parts.append((elder, provider, km))
    elder, provider, km = (np.concatenate(column) for column in zip(*parts, strict=True))
    return elder, provider, km, found == 0


def _look(tree, xyz, rows, k, radius, owner, cols, max_km, nearest):
    chord, station = tree.query(xyz, k=k, distance_upper_bound=radius)
    chord, station = chord.reshape(len(rows), k), station.reshape(len(rows), k)
    inside = station < len(owner)
    provider = np.where(inside, owner[np.minimum(station, len(owner) - 1)], -1)
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.where(inside, chord, 0) / 2))
    at = np.maximum(provider, 0)
    ok = inside & (km <= max_km)
    ok &= cols["service_fit"][cols["service_row"][rows][:, None], at]
    ok &= cols["area_fit"][cols["area_row"][rows][:, None], at]
    # Stations come nearest first, so a provider's first station in the row is its nearest: sort
    # each row by provider (stable) and drop repeats.
    key = np.where(ok, provider, len(owner) + np.arange(k))
    order = np.argsort(key, axis=1, kind="stable")
    sorted_key = np.take_along_axis(key, order, 1)
    repeat = np.zeros_like(ok)
    np.put_along_axis(repeat, order[:, 1:], sorted_key[:, 1:] == sorted_key[:, :-1], 1)
    ok &= ~repeat
    ok &= np.cumsum(ok, axis=1) <= nearest
    elder_of, slot = np.nonzero(ok)
    return rows[elder_of], provider[elder_of, slot], km[elder_of, slot], ok.sum(1), inside[:, -1]


def solve(document: dict, nearest: int = NEAREST) -> dict:
    policy, providers = document["policy"], document["providers"]
    cols = read_columns(document)
    bonus = float(policy.get("continuity_bonus_km") or 0.0)
    elder, provider, km, nobody = nearest_eligible(cols, providers, float(policy["max_km"]), nearest)
    visits, quota, n = cols["visits"], cols["quota"], len(cols["visits"])
    per_visit = km - bonus * (cols["previous"][elder] == provider)

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        elder, n + provider, visits[elder], np.rint(per_visit * COST_UNITS_PER_KM).astype(np.int64)
    )
    flow.set_nodes_supplies(np.arange(n + len(quota)), np.concatenate([visits, -quota]))
    if flow.solve_max_flow_with_min_cost() != flow.OPTIMAL:
        raise RuntimeError("the anchor's min-cost flow did not solve")
    sent = flow.flows(np.arange(flow.num_arcs()))
    assigned, arc = _repair_splits(elder, provider, per_visit, sent, visits, quota, n)
    # arc -1 (unassigned) picks the appended nan
    return _plan(document, cols, assigned, np.append(km, np.nan)[arc], np.append(per_visit, np.nan)[arc], nobody)


def _repair_splits(elder, provider, per_visit, sent, visits, quota, n):
    """Each elder's provider (-1: none) and arc, splits settled whole where room is left."""
    assigned, arc = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    whole = sent == visits[elder]
    assigned[elder[whole]], arc[elder[whole]] = provider[whole], np.flatnonzero(whole)
    room = quota - np.bincount(provider[whole], weights=visits[elder[whole]], minlength=len(quota)).astype(np.int64)
    partial = (sent > 0) & ~whole  # arcs of split (or half-served) elders
    tried = np.zeros(len(sent), bool)
    for _ in range(2):  # a split elder has at most two providers: cheaper first, then the other
        open_arcs = np.flatnonzero(partial & ~tried & (assigned[elder] < 0))
        open_arcs = open_arcs[np.lexsort((per_visit[open_arcs], elder[open_arcs]))]
        first = open_arcs[np.r_[True, elder[open_arcs][1:] != elder[open_arcs][:-1]]] if len(open_arcs) else open_arcs
        tried[first] = True
        first = first[np.lexsort((per_visit[first], provider[first]))]  # per provider, cheapest first
        need = visits[elder[first]]
        start = np.searchsorted(provider[first], provider[first])
        used_before = np.cumsum(need) - need - (np.cumsum(need) - need)[start]
        fits = used_before + need <= room[provider[first]]
        take = first[fits]
        assigned[elder[take]], arc[elder[take]] = provider[take], take
        room -= np.bincount(provider[take], weights=visits[elder[take]], minlength=len(quota)).astype(np.int64)
    return assigned, arc


def _plan(document, cols, assigned, km, per_visit, nobody) -> dict:
    elders, providers = document["elders"], document["providers"]
    served = assigned >= 0
    provider_ids = [p["id"] for p in providers]
    ids, visits = [e["id"] for e in elders], cols["visits"].tolist()
    km_list, who = np.round(km, 6).tolist(), assigned.tolist()
    assignments = [
        {"elder": ids[i], "provider": provider_ids[who[i]], "visits": visits[i], "km": km_list[i]}
        for i in np.flatnonzero(served).tolist()
    ]
    unassigned = [
        {"elder": ids[i], "visits": visits[i], "reason": "no_eligible_provider" if no else "quota_exhausted"}
        for i, no in zip(np.flatnonzero(~served).tolist(), nobody[~served].tolist(), strict=True)
    ]
    return {
        "month": document["month"],
        "assignments": assignments,
        "unassigned": unassigned,
        "visits_assigned": int(cols["visits"][served].sum()),
        "cost": round(float((cols["visits"][served] * per_visit[served]).sum()), 6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--nearest", type=int, default=NEAREST, help="eligible providers per elder in the flow")
    args = parser.parse_args()
    with open(args.instance, "rb") as f:
        document = json.load(f)
    plan = solve(document, args.nearest)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(json.dumps(plan, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
