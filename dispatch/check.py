"""An independent checker for plans in docs/dispatch.md's JSON format.

Written apart from the optimiser on purpose: plain loops over the instance, its own distances
(dispatch.geo.haversine_km on every station), no numpy, no shared helpers beyond the model. A plan
that passes here keeps every rule, whatever produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dispatch.geo import haversine_km
from dispatch.model import NO_ELIGIBLE_PROVIDER, UNASSIGNED_REASONS, Elder, Instance, Provider

KM_TOLERANCE = 1e-3  # plans print km to a few decimals
COST_TOLERANCE = 1e-6  # relative, on the recomputed total


def check_plan(instance: Instance, plan: Mapping[str, Any]) -> list[str]:
    """Every violation found, as readable sentences; an empty list means the plan is valid."""
    violations: list[str] = []
    policy = instance.policy
    providers = {p.id: p for p in instance.providers}
    elders = {e.id: e for e in instance.elders}
    if plan.get("month") != instance.month:
        violations.append(f"plan month {plan.get('month')!r} is not the instance month {instance.month!r}")

    seen: set[str] = set()
    load = dict.fromkeys(providers, 0)
    visits_assigned, cost = 0, 0.0
    for a in plan.get("assignments", []):
        elder, provider = elders.get(a.get("elder")), providers.get(a.get("provider"))
        if elder is None or provider is None:
            violations.append(f"assignment {a} names an unknown elder or provider")
            continue
        if elder.id in seen:
            violations.append(f"elder {elder.id} appears more than once")
        seen.add(elder.id)
        if a.get("visits") != elder.visits:
            violations.append(f"elder {elder.id} gets {a.get('visits')} visits, entitled to {elder.visits} (no splits)")
        km = (
            min(haversine_km(s.lat, s.lon, elder.lat, elder.lon) for s in provider.stations)
            if provider.stations
            else float("inf")
        )
        if not elder.services <= provider.services:
            violations.append(f"{provider.id} does not offer every service {elder.id} needs")
        if not any(elder.area.startswith(area) for area in provider.areas):
            violations.append(f"{provider.id} is not contracted for {elder.id}'s area {elder.area}")
        if km > policy.max_km:
            violations.append(f"{elder.id} is {km:.3f} km from {provider.id}'s nearest station, over {policy.max_km}")
        if abs(float(a.get("km", -1)) - km) > KM_TOLERANCE:
            violations.append(f"{elder.id}: plan says {a.get('km')} km, the nearest station is {km:.6f} km away")
        load[provider.id] += elder.visits
        visits_assigned += elder.visits
        bonus = policy.continuity_bonus_km if elder.previous_provider == provider.id else 0.0
        cost += elder.visits * (km - bonus)

    for pid, used in load.items():
        if used > providers[pid].quota:
            violations.append(f"{pid} gets {used} visits, over its quota of {providers[pid].quota}")

    for u in plan.get("unassigned", []):
        elder = elders.get(u.get("elder"))
        if elder is None:
            violations.append(f"unassigned entry {u} names an unknown elder")
            continue
        if elder.id in seen:
            violations.append(f"elder {elder.id} is both assigned and unassigned, or listed twice")
        seen.add(elder.id)
        if u.get("visits") != elder.visits:
            violations.append(f"unassigned {elder.id} lists {u.get('visits')} visits, entitled to {elder.visits}")
        anyone = any(_eligible(p, elder, policy.max_km) for p in instance.providers)
        expected = NO_ELIGIBLE_PROVIDER if not anyone else UNASSIGNED_REASONS[1]
        if u.get("reason") != expected:
            violations.append(f"unassigned {elder.id} has reason {u.get('reason')!r}, should be {expected!r}")

    missing = [eid for eid in elders if eid not in seen]
    if missing:
        violations.append(f"{len(missing)} elders are neither assigned nor unassigned, e.g. {missing[:3]}")
    if plan.get("visits_assigned") != visits_assigned:
        violations.append(f"visits_assigned is {plan.get('visits_assigned')}, the assignments give {visits_assigned}")
    stated = float(plan.get("cost", float("nan")))
    if not abs(stated - cost) <= COST_TOLERANCE * max(1.0, abs(cost)) + KM_TOLERANCE:
        violations.append(f"cost is {stated}, the assignments give {cost:.6f}")
    return violations


def _eligible(provider: Provider, elder: Elder, max_km: float) -> bool:
    return (
        elder.services <= provider.services
        and any(elder.area.startswith(area) for area in provider.areas)
        and any(haversine_km(s.lat, s.lon, elder.lat, elder.lon) <= max_km for s in provider.stations)
    )
