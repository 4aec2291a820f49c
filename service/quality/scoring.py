"""A provider's monthly quality score, 0-100: a pure function of the month's figures.

Four parts, as the Yuxi seed's evaluation index asks: verified rate, (absence of) exceptions, elders'
satisfaction on follow-up calls, emergencies answered on time. A part with nothing to measure (no
follow-up calls, no emergencies) is left out and the others carry its weight, so a provider is not
punished, or flattered, by a lack of data.

Then complaints: the month's complaint tickets about the provider (service/complaints, opened by an
operator or from a follow-up) take COMPLAINT_POINTS_PER_RATE points off for each complaint per visit,
at most COMPLAINT_MAX_POINTS: 1 complaint in 100 visits costs 2 points, 10 or more in 100 cost 20. A
deduction, not a weighted part, so that no complaint leaves the score as it was and a complaint can never
raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHTS = {"verified": 0.4, "no_exceptions": 0.2, "satisfaction": 0.25, "emergency_on_time": 0.15}
COMPLAINT_POINTS_PER_RATE = 200.0
COMPLAINT_MAX_POINTS = 20.0


@dataclass(frozen=True)
class ProviderMonth:
    visits: int
    verified: int
    exceptions: int
    follow_ups: int
    satisfaction_sum: int
    emergencies: int
    emergencies_on_time: int
    complaints: int = 0

    @property
    def verified_rate(self) -> float | None:
        return self.verified / self.visits if self.visits else None

    @property
    def exception_rate(self) -> float | None:
        return self.exceptions / self.visits if self.visits else None

    @property
    def mean_satisfaction(self) -> float | None:
        return self.satisfaction_sum / self.follow_ups if self.follow_ups else None

    @property
    def on_time_rate(self) -> float | None:
        return self.emergencies_on_time / self.emergencies if self.emergencies else None


def quality_score(month: ProviderMonth) -> float | None:
    """None for a month without visits: nothing was delivered, so nothing can be judged."""
    if not month.visits:
        return None
    parts = {"verified": month.verified_rate, "no_exceptions": 1 - month.exception_rate}
    if month.mean_satisfaction is not None:
        parts["satisfaction"] = (month.mean_satisfaction - 1) / 4
    if month.on_time_rate is not None:
        parts["emergency_on_time"] = month.on_time_rate
    weight = sum(WEIGHTS[name] for name in parts)
    score = 100 * sum(WEIGHTS[name] * value for name, value in parts.items()) / weight
    deduction = min(COMPLAINT_MAX_POINTS, COMPLAINT_POINTS_PER_RATE * month.complaints / month.visits)
    return round(max(0.0, score - deduction), 1)


def low_run(below: bool, previous_run: int, previous_suspended: bool) -> int:
    """Consecutive low months ending with this one; a suspension starts the count again."""
    if not below:
        return 0
    return (0 if previous_suspended else previous_run) + 1
