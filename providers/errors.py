"""What can go wrong talking to the service, as a provider app needs to tell it apart.

A refusal (4xx) is the service's answer and is never retried: the app must change something. A
service that stays unreachable or broken after the retry budget is a different problem (wait, keep
the work queued), so it has its own class.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError


class FieldError(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem+json body as the service renders it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ProviderError(Exception):
    """Anything the provider client raises about the service."""


class ProviderApiError(ProviderError):
    """The service answered with an error status; `problem` is its problem+json body."""

    def __init__(self, problem: Problem, *, method: str = "", path: str = "") -> None:
        self.problem = problem
        self.method, self.path = method, path
        super().__init__(f"{method} {path} -> {problem.status} {problem.title}: {problem.detail}".strip())

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def detail(self) -> str | None:
        return self.problem.detail

    @property
    def errors(self) -> list[FieldError]:
        return self.problem.errors or []

    @property
    def fields(self) -> set[str]:
        return {error.field for error in self.errors}


class NotFoundError(ProviderApiError):
    """404: no such object of this provider's (others' objects look exactly the same)."""


class ConflictError(ProviderApiError):
    """409: the offer expired or was cancelled, another caregiver took it, or a twin visit exists."""


class ServiceUnreachable(ProviderError):
    """No answer at all (timeouts, dropped connections) on the last attempt of the retry budget.

    A last attempt that got a 5xx raises ProviderApiError instead, carrying the service's problem.
    """

    def __init__(self, method: str, path: str, attempts: int, last: str) -> None:
        self.attempts = attempts
        super().__init__(f"{method} {path}: gave up after {attempts} attempts ({last})")


def problem_of(response: httpx.Response) -> Problem:
    """The response's problem+json, or a stand-in when a proxy answered with something else."""
    try:
        body: Any = response.json()
        return Problem.model_validate({**body, "status": body.get("status", response.status_code)})
    except (ValueError, AttributeError, TypeError, ValidationError):
        try:
            title = HTTPStatus(response.status_code).phrase
        except ValueError:
            title = "Error"
        return Problem(title=title, status=response.status_code, detail=response.text[:300] or None)


def api_error(response: httpx.Response) -> ProviderApiError:
    kind = {404: NotFoundError, 409: ConflictError}.get(response.status_code, ProviderApiError)
    return kind(problem_of(response), method=response.request.method, path=response.request.url.path)
