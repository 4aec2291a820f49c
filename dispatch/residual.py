"""The residual graph of a flow, at provider level, kept up to date as visits move one at a time.

Elders are the intermediate nodes of the flow network; collapsing them leaves a tiny graph over the
providers and a pool of unserved visits. Its edge X -> Y is the cheapest way to move one visit of
some elder from X to Y (cost at Y minus cost at X); "X -> pool" leaves a visit unserved (minus its
cost), "pool -> Y" serves one (plus its cost). A chain ending at a provider with quota left moves one
visit of room; a cycle of negative cost is an improvement. A city has 100 providers, so Bellman-Ford
over this graph takes a millisecond.

Two uses. The relaxation (dispatch/relax.py) lets every elder move one visit at a time: its residual
graph has no negative cycle exactly when the flow is optimal, and it gives the LP's prices
(dispatch/prices.py). The repair (dispatch/repair.py) lets only 1-visit elders move, so that every
chain keeps the plan integral. Costs are the flow's integer units: "negative" is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from dispatch.arrays import Bools, Ints

INFINITE = 2**58  # "no edge" / "unreachable"; sums of two stay far inside int64
TOP_MOVES = 12  # per edge, the cheapest moves of elders not moved yet, kept ready

_Visits = tuple[Ints, Ints, Ints]  # (node, elder, slot) of visits at nodes
_Moves = tuple[Ints, Ints, Ints, Ints, Ints]  # (edge key, cost, elder, from slot, to slot) of one-visit moves
_Ready = tuple[Ints, Ints, Ints, Ints, Ints, Ints]  # a node's cheapest moves, and the edges that may have more


class Residual:
    def __init__(
        self, visits: Ints, provider: Ints, units: Ints, quotas: npt.ArrayLike, flow: Ints, movable: Bools
    ) -> None:
        """flow (elders, slots) is owned and updated in place; movable: elders allowed to move."""
        self.visits, self.provider, self.units, self.flow, self.movable = visits, provider, units, flow, movable
        self.quotas = np.asarray(quotas, np.int64)
        self.pool = len(self.quotas)  # node index of the pool of unserved visits
        used = flow > 0
        self.load = np.bincount(provider[used], weights=flow[used], minlength=self.pool).astype(np.int64)
        size = self.pool + 1
        self.weight = np.full((size, size), INFINITE, np.int64)
        self.mover = np.full((size, size), -1, np.int64)  # the elder whose visit makes each edge
        self.mover_from = np.full((size, size), -1, np.int64)  # its slot at the tail (-1: the pool)
        self.mover_to = np.full((size, size), -1, np.int64)  # its slot at the head (-1: the pool)
        # Visits grouped by node once. An elder that moves is flagged and from then on looked at
        # separately (few are); for the others, each edge keeps its TOP_MOVES cheapest moves ready,
        # which stay valid as long as their elders do not move. Refreshing a node is then cheap.
        elder, slot = np.nonzero(used & movable[:, None])
        key = provider[elder, slot]
        order = np.argsort(key, kind="stable")
        self._elder, self._slot = elder[order], slot[order]
        self._starts = np.searchsorted(key[order], np.arange(size + 1))
        self._short = np.flatnonzero(movable & (flow.sum(axis=1) < visits) & (provider >= 0).any(axis=1))
        self._flagged = np.zeros(len(visits), bool)
        self._changed = np.zeros(0, np.int64)
        self._ready: list[_Ready | None] = [None] * size  # prepared when a node is first refreshed
        self._journal: dict[int, Ints] | None = None  # rows as they were, while trying something
        for first in range(0, size, 8):  # a few nodes at a time keeps the temporary arrays small
            self._set_edges(*self._moves(*self._unmoved_at(range(first, min(first + 8, size)))))

    def _unmoved_at(self, nodes: Iterable[int]) -> _Visits:
        """(node, elder, slot) of the visits at these nodes of movable elders not moved yet."""
        parts = []
        for x in nodes:
            if x == self.pool:
                elder = self._short[~self._flagged[self._short]]
                slot = np.full(len(elder), -1)
            else:
                span = slice(self._starts[x], self._starts[x + 1])
                elder, slot = self._elder[span], self._slot[span]
                keep = ~self._flagged[elder]
                elder, slot = elder[keep], slot[keep]
            parts.append((np.full(len(elder), x), elder, slot))
        node, elder, slot = (np.concatenate(column) for column in zip(*parts, strict=True))
        return node, elder, slot

    def _moved_at(self, nodes: Iterable[int]) -> _Visits:
        """(node, elder, slot) of the visits at these nodes of elders that have moved."""
        changed = self._changed
        wanted = set(nodes)
        at, slot = np.nonzero((self.flow[changed] > 0) & np.isin(self.provider[changed], sorted(wanted)))
        tail, elder = self.provider[changed[at], slot], changed[at]
        if self.pool in wanted:
            short = changed[self.flow[changed].sum(axis=1) < self.visits[changed]]
            tail, elder = np.append(tail, np.full(len(short), self.pool)), np.append(elder, short)
            slot = np.append(slot, np.full(len(short), -1))
        return tail, elder, slot

    def _moves(self, tail: Ints, elder: Ints, slot: Ints) -> _Moves:
        """Every one-visit move of these visits: (edge key tail*size+head, cost, elder, from, to slot)."""
        size = len(self.weight)
        at_provider = slot >= 0
        base = np.where(at_provider, self.units[elder, np.maximum(slot, 0)], 0)
        drop = np.flatnonzero(at_provider)  # leave the visit unserved: into the pool
        targets = self.provider[elder]
        ok = (targets >= 0) & (targets != tail[:, None]) & (self.flow[elder] < self.visits[elder][:, None])
        row, to_slot = np.nonzero(ok)
        return (
            np.concatenate([tail[drop] * size + self.pool, tail[row] * size + targets[row, to_slot]]),
            np.concatenate([-base[drop], self.units[elder[row], to_slot] - base[row]]),
            np.concatenate([elder[drop], elder[row]]),
            np.concatenate([slot[drop], slot[row]]),
            np.concatenate([np.full(len(drop), -1), to_slot]),
        )

    def _prepare(self, nodes: Sequence[int]) -> None:
        """The TOP_MOVES cheapest moves of each edge out of these nodes, among elders not moved."""
        key, cost, elder, source, target = self._moves(*self._unmoved_at(nodes))
        low = cost.min(initial=0)
        order = np.argsort(key * (cost.max(initial=0) - low + 1) + (cost - low), kind="stable")  # by edge, then cost
        key, cost, elder, source, target = (a[order] for a in (key, cost, elder, source, target))
        first = np.searchsorted(key, key)
        keep = np.arange(len(key)) - first < TOP_MOVES
        full = np.unique(key[np.arange(len(key)) - first == TOP_MOVES - 1])  # edges that may have more
        tails = key[keep] // len(self.weight)
        for x in nodes:
            mine = keep.copy()
            mine[keep] = tails == x
            self._ready[x] = (
                key[mine],
                cost[mine],
                elder[mine],
                source[mine],
                target[mine],
                full[full // len(self.weight) == x],
            )

    def refresh(self, nodes: Iterable[int]) -> None:
        """Recompute the cheapest moves out of these nodes (providers, or the pool)."""
        ordered = sorted(set(nodes))
        self.weight[ordered] = INFINITE
        self.mover[ordered], self.mover_from[ordered], self.mover_to[ordered] = -1, -1, -1
        unprepared = [x for x in ordered if self._ready[x] is None]
        if unprepared:
            self._prepare(unprepared)
        ready = [r for r in (self._ready[x] for x in ordered) if r is not None]  # all of them, by now
        key, cost, elder, source, target, full = (np.concatenate(column) for column in zip(*ready, strict=True))
        live = ~self._flagged[elder]
        spent = np.setdiff1d(full, key[live])  # every ready move of the edge has moved: look again
        if len(spent):
            self._prepare(sorted(set((spent // len(self.weight)).tolist())))
            return self.refresh(ordered)
        moved = self._moves(*self._moved_at(ordered))
        kept = (key, cost, elder, source, target)
        self._set_edges(*(np.concatenate([a[live], b]) for a, b in zip(kept, moved, strict=True)))

    def _set_edges(self, key: Ints, cost: Ints, elder: Ints, from_slot: Ints, to_slot: Ints) -> None:
        """For each edge (flat key) the cheapest of these moves; the first one wins ties."""
        least = np.full(self.weight.size, INFINITE, np.int64)
        np.minimum.at(least, key, cost)
        hit = np.flatnonzero(cost == least[key])
        pick = np.full(self.weight.size, -1, np.int64)
        pick[key[hit][::-1]] = hit[::-1]
        edge = np.flatnonzero(pick >= 0)
        pick = pick[edge]
        self.weight.flat[edge], self.mover.flat[edge] = cost[pick], elder[pick]
        self.mover_from.flat[edge], self.mover_to.flat[edge] = from_slot[pick], to_slot[pick]

    def begin(self) -> None:
        """Start remembering changed rows, so that `rollback` can undo an attempt."""
        self._journal = {}

    def rollback(self) -> None:
        journal, self._journal = self._journal or {}, None
        nodes: set[int] = set()
        for elder, row in journal.items():
            now = self.flow[elder]
            nodes |= set(self.provider[elder, now > 0].tolist())
            np.subtract.at(self.load, self.provider[elder, now > 0], now[now > 0])
            np.add.at(self.load, self.provider[elder, row > 0], row[row > 0])
            self.flow[elder] = row
        self._refresh_after(set(journal), nodes)

    def commit(self) -> None:
        self._journal = None

    def _remember(self, elder: int) -> None:
        if self._journal is not None and elder not in self._journal:
            self._journal[elder] = self.flow[elder].copy()

    def spare(self) -> Ints:
        return self.quotas - self.load

    def served_visits(self) -> int:
        return int(self.load.sum())

    def distances(self, drop_penalty: int = INFINITE) -> tuple[Ints, Ints, bool]:
        """Cheapest chain cost from every node to a provider with room (or, at drop_penalty, to the
        pool: a visit lost), the next node of each chain (-1: it ends here), and whether
        Bellman-Ford settled (False: a negative cycle, see `cycle`)."""
        dist = np.append(np.where(self.spare() >= 1, 0, INFINITE), drop_penalty).astype(np.int64)
        succ = np.full(len(dist), -1, np.int64)
        rows = np.arange(len(dist))
        for _ in range(len(dist) + 1):
            through = self.weight + dist[None, :]
            best = through.argmin(axis=1)
            value = through[rows, best]
            value[value >= INFINITE // 2] = INFINITE  # unreachable stays unreachable
            better = value < dist
            if not better.any():
                return dist, succ, True
            dist[better], succ[better] = value[better], best[better]
        return dist, succ, False

    def chain(self, start: int, succ: Ints) -> list[int] | None:
        nodes, seen = [start], {start}
        while succ[nodes[-1]] >= 0:
            nodes.append(int(succ[nodes[-1]]))
            if nodes[-1] in seen:
                return None
            seen.add(nodes[-1])
        return nodes

    def cycle(self, succ: Ints) -> list[int] | None:
        """A cycle of the successor pointers left by an unsettled Bellman-Ford (closed: first == last)."""
        for start in np.flatnonzero(succ >= 0):
            x = int(start)
            for _ in range(len(succ)):
                x = int(succ[x])
                if x < 0:
                    break
            if x < 0:
                continue
            nodes = [x, int(succ[x])]
            while nodes[-1] != x:
                nodes.append(int(succ[nodes[-1]]))
            return nodes
        return None

    def push(self, nodes: list[int]) -> bool:
        """Move one visit along each edge of a chain or cycle. Along a simple chain each elder's
        moves stay possible in turn; should one not (a stale edge), nothing moves and False."""
        rows: dict[int, Ints] = {}
        load = np.zeros_like(self.load)
        for x, y in pairwise(nodes):
            elder, a, b = int(self.mover[x, y]), int(self.mover_from[x, y]), int(self.mover_to[x, y])
            row = rows.setdefault(elder, self.flow[max(elder, 0)].copy())
            if (
                elder < 0
                or (a >= 0 and row[a] <= 0)
                or (b >= 0 and row[b] >= self.visits[elder])
                or (a < 0 and row.sum() >= self.visits[elder])
            ):
                self._refresh_after(set(), nodes)
                return False
            if a >= 0:
                row[a] -= 1
                load[x] -= 1
            if b >= 0:
                row[b] += 1
                load[y] += 1
        for elder, row in rows.items():
            self._remember(elder)
            self.flow[elder] = row
        self.load += load
        self._refresh_after(set(rows), nodes)
        return True

    def place(self, elder: int, slot: int) -> None:
        """All of an elder's visits at one slot (-1: unserved), loads adjusted; quotas may overflow."""
        self._remember(elder)
        used = self.flow[elder] > 0
        was = set(self.provider[elder, used].tolist())
        np.subtract.at(self.load, self.provider[elder, used], self.flow[elder, used])
        self.flow[elder] = 0
        if slot >= 0:
            self.flow[elder, slot] = self.visits[elder]
            self.load[self.provider[elder, slot]] += self.visits[elder]
        if self.movable[elder]:
            self._refresh_after({elder}, was)

    def _refresh_after(self, elders: set[int], nodes: Iterable[int]) -> None:
        """Refresh the nodes whose edges may have changed: those given (the chain, where elders
        were), those where a moved elder has visits now (its room elsewhere changed), the pool."""
        new = [e for e in elders if self.movable[e] and not self._flagged[e]]
        self._flagged[new] = True
        self._changed = np.concatenate([self._changed, np.array(new, np.int64)])
        touched = set(nodes) | {self.pool}
        for elder in elders:
            touched |= set(self.provider[elder][self.flow[elder] > 0].tolist())
        self.refresh(touched)
