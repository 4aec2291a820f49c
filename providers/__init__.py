"""The provider side of the wire: a typed client for the provider API and a field simulator.

Speaks to the service only over HTTP (httpx, pydantic); never imports service, dispatch or seed.
"""

from providers.client import ProviderClient
from providers.errors import ConflictError, NotFoundError, ProviderApiError, ProviderError, ServiceUnreachable
from providers.fieldwork import Habits, roster_for
from providers.models import Assignment, AssignmentPage, BatchResult, NaiveTimeError, Visit, VisitRecord
from providers.retry import RetryPolicy
from providers.simulator import FieldReport, FieldSimulator, simulate_month

__all__ = [
    "Assignment",
    "AssignmentPage",
    "BatchResult",
    "ConflictError",
    "FieldReport",
    "FieldSimulator",
    "Habits",
    "NaiveTimeError",
    "NotFoundError",
    "ProviderApiError",
    "ProviderClient",
    "ProviderError",
    "RetryPolicy",
    "ServiceUnreachable",
    "Visit",
    "VisitRecord",
    "roster_for",
    "simulate_month",
]
