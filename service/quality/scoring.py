"""A provider's monthly quality score, 0-100: a pure function of the month's figures.

Four parts, as the Yuxi seed's evaluation index asks: verified rate, (absence of) exceptions, elders'
satisfaction on follow-up calls, emergencies answered on time. A part with nothing to measure (no
follow-up calls, no emergencies) is left out and the others carry its weight, so a provider is not
punished, or flattered, by a lack of data.
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHTS = {"verified": 0.4, "no_exceptions": 0.2, "satisfaction": 0.25, "emergency_on_time": 0.15}


@dataclass(frozen=True)
class ProviderMonth:
    visits: int
    verified: int
    exceptions: int
    follow_ups: int
    satisfaction_sum: int
    emergencies: int
    emergencies_on_time: int

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
    return round(100 * sum(WEIGHTS[name] * value for name, value in parts.items()) / weight, 1)


def low_run(below: bool, previous_run: int, previous_suspended: bool) -> int:
    """Consecutive low months ending with this one; a suspension starts the count again."""
    if not below:
        return 0
    return (0 if previous_suspended else previous_run) + 1
