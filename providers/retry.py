"""When to try a request again, and how long to wait first.

Field phones sit on bad networks, and a request that timed out may well have been done by the
service. Retrying is safe only because every call the client makes is idempotent on the service
(accept/decline twice answer the same, a check-in is keyed by client_visit_id, a check-out by its
time, a batch by its items' keys) and because a retry resends the very same body. A 4xx is the
service's considered answer and resending cannot change it, so it is never retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

# The ways a request can fail without the service having said no.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Tries in all, the first one included."""
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need attempts >= 1 and 0 <= base_delay_s <= max_delay_s")

    def delay(self, retry: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1, 2, …).

        Exponential with "equal jitter": half the step is fixed, half random, so many phones that
        lost the network together do not come back in lockstep, yet none retries at once. The
        service's Retry-After, when it sends one, is a floor (capped like the rest).
        """
        step = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        wait = step / 2 + rng.uniform(0, step / 2)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.max_delay_s))
        return wait


def should_retry(status: int) -> bool:
    return status >= 500


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from this service, and the backoff is a fine substitute
