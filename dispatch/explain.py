"""Why each elder got its provider, and where visits are lacking: for regulators and operators."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dispatch.arrays import Bools, Floats, Ints
from dispatch.model import (
    NO_ELIGIBLE_PROVIDER,
    STREET_DIGITS,
    UNASSIGNED_REASONS,
    ElderTable,
    StreetShortfall,
)


def runner_up(assigned: Ints, closest: Ints, closest_km: Floats) -> tuple[Ints, Floats]:
    """The nearest eligible provider other than the chosen one (-1, inf when there is none), from
    each elder's two nearest eligible providers."""
    first_is_own = closest[:, 0] == assigned
    other = np.where(first_is_own, closest[:, 1], closest[:, 0])
    other_km = np.where(first_is_own, closest_km[:, 1], closest_km[:, 0])
    return other, np.where(other >= 0, other_km, np.inf)


def continuity_flags(assigned: Ints, previous: Ints, km: Floats, other_km: Floats, bonus: float) -> tuple[Bools, Bools]:
    """(served again by last month's provider, and only because of the bonus: a nearer provider
    was eligible and lost by less than the bonus)."""
    continuity = (assigned >= 0) & (assigned == previous) & (bonus > 0)
    kept = continuity & (other_km < km) & (other_km > km - bonus)
    return continuity, kept


def unassigned_reasons(assigned: Ints, eligible_count: Ints) -> npt.NDArray[np.int8]:
    """-1 for assigned elders, else the index into UNASSIGNED_REASONS."""
    no_one = UNASSIGNED_REASONS.index(NO_ELIGIBLE_PROVIDER)
    return np.where(assigned >= 0, -1, np.where(eligible_count == 0, no_one, 1 - no_one)).astype(np.int8)


def street_shortfall(elders: ElderTable, assigned: Ints, reasons: npt.NDArray[np.int8]) -> tuple[StreetShortfall, ...]:
    """Visits lacking per street (the first 9 digits of the area code), most lacking first."""
    no_one = UNASSIGNED_REASONS.index(NO_ELIGIBLE_PROVIDER)
    lacking: dict[str, list[int]] = {}
    for i in np.flatnonzero(assigned < 0).tolist():
        row = lacking.setdefault(elders.areas[i][:STREET_DIGITS], [0, 0, 0])
        row[0] += int(elders.visits[i])
        row[1] += 1
        row[2] += int(reasons[i] == no_one)
    rows = [StreetShortfall(street, *counts) for street, counts in lacking.items()]
    return tuple(sorted(rows, key=lambda r: (-r.visits_lacking, r.street)))
