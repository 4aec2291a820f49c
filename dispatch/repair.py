"""From the relaxation's flow to a plan the spec allows: no elder split, nobody needlessly unserved.

The flow is optimal but may send an elder's visits to two or more providers (or serve only some of
them). Each such elder is placed whole at whichever of its providers costs least together with the
chains of 1-visit moves (dispatch/residual.py) that make the room missing there, one visit each: a
successive-shortest-path step, so the rest of the plan stays as good as it was. If no chain exists,
the elder waits and the fill serves others in the room it left. Last, chains that lower the cost
are followed until none is left. Only 1-visit elders move in chains, so the plan stays integral.
"""

from __future__ import annotations

import numpy as np

from dispatch.arrays import Ints
from dispatch.residual import INFINITE, Residual

UNSERVED = -1
# Dropping a 1-visit elder to place a larger one is a last resort, priced far above any distance.
_DROP_PENALTY = INFINITE // 1024
_FILL_ATTEMPTS = 200  # multi-visit elders tried in the room failed repairs left; each try is one Bellman-Ford


def settle(visits: Ints, provider: Ints, units: Ints, quotas: Ints, flow: Ints) -> Residual:
    """An integral plan from the relaxation's flow (elders x candidate slots)."""
    whole = flow == visits[:, None]
    served = flow.sum(axis=1)
    plan = Residual(visits, provider, units, quotas, np.where(whole, flow, 0), visits == 1)
    for elder in np.flatnonzero((served > 0) & ~whole.any(axis=1)):
        _place_whole(plan, int(elder), flow[elder])
    if plan.served_visits() < int(served.sum()):
        _fill(plan, int(served.sum()))
    _improve(plan)
    return plan


def assigned_slot(plan: Residual) -> Ints:
    """Each elder's candidate slot in an integral plan, -1 if unserved."""
    slot = np.argmax(plan.flow > 0, axis=1)
    return np.where(plan.flow[np.arange(len(slot)), slot] > 0, slot, UNSERVED)


def relieve(plan: Residual, x: int, drop_penalty: int = INFINITE) -> bool:
    """Chain visits out of provider x until it is within its quota; False if it cannot."""
    while plan.load[x] > plan.quotas[x]:
        dist, succ, settled = plan.distances(drop_penalty)
        nodes = plan.chain(x, succ) if settled and dist[x] < INFINITE else None
        if nodes is None or len(nodes) < 2 or not plan.push(nodes):
            return False
    return True


def _place_whole(plan: Residual, elder: int, units: Ints) -> None:
    """All of a split elder's visits at one of the providers the flow used, the cheaper one counting
    the chain it needs; the elder waits (unserved) if neither can make room."""
    best, best_cost = UNSERVED, INFINITE
    for s in np.flatnonzero(units):
        plan.place(elder, int(s))
        p = int(plan.provider[elder, s])
        dist, _, settled = plan.distances()
        missing = max(0, -int(plan.spare()[p]))  # visits of room: one chain each, the first one's cost
        extra = 0 if not missing else INFINITE if dist[p] >= INFINITE else missing * int(dist[p])
        cost = plan.visits[elder] * plan.units[elder, s] + extra
        if settled and extra < INFINITE and cost < best_cost:
            best, best_cost = int(s), cost
    plan.place(elder, best)
    if best != UNSERVED and not relieve(plan, int(plan.provider[elder, best])):
        plan.place(elder, UNSERVED)  # cannot happen after a finite distance; stay valid regardless


def _fill(plan: Residual, target: int) -> None:
    """Serve unserved elders while chains can make room: 1-visit elders through the pool, then
    the others (cheapest candidate first), kept only if visits grow."""
    while plan.served_visits() < target:
        dist, succ, settled = plan.distances()
        nodes = plan.chain(plan.pool, succ) if settled and dist[plan.pool] < INFINITE else None
        if nodes is None or len(nodes) < 2 or not plan.push(nodes):
            break
    unserved = plan.flow.sum(axis=1) == 0
    waiting = np.flatnonzero(unserved & (plan.visits >= 2) & (plan.provider >= 0).any(axis=1))
    price = np.where(plan.provider[waiting] >= 0, plan.units[waiting], INFINITE)
    for elder in waiting[np.argsort(price.min(axis=1))][:_FILL_ATTEMPTS]:
        if plan.served_visits() >= target:
            return
        for s in np.argsort(np.where(plan.provider[elder] >= 0, plan.units[elder], INFINITE))[:2]:
            if plan.provider[elder, s] < 0:
                break
            before = plan.served_visits()
            plan.begin()
            plan.place(int(elder), int(s))
            if relieve(plan, int(plan.provider[elder, s]), _DROP_PENALTY) and plan.served_visits() > before:
                plan.commit()
                break
            plan.rollback()


def _improve(plan: Residual, rounds: int = 1000) -> None:
    """Follow chains of negative cost (moves into room a repair left free) while there are any."""
    for _ in range(rounds):
        dist, succ, settled = plan.distances()
        start = int(np.argmin(dist[:-1]))
        if not settled or dist[start] >= 0:
            return
        nodes = plan.chain(start, succ)
        if nodes is None or len(nodes) < 2 or not plan.push(nodes):
            return
