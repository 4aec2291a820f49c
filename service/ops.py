"""Operations endpoints and request metrics: /livez, /readyz, /metrics, structured access logs."""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import Admin
from service.errors import problem, route_of
from service.redaction import install_log_redaction

router = APIRouter(tags=["operations"])
log = logging.getLogger("homecare.access")


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "homecare_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "homecare_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )


@router.get("/livez", summary="The process is alive (no database check)")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers",
    response_model=dict[str, str],
    responses={503: {"description": "Database unreachable"}},
)
async def readyz(request: Request):
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    # Any failure to reach the database means "not ready", whatever raised it: a refused connection is a bare
    # OSError from the driver (asyncpg), not a SQLAlchemyError, and so are the dialects' emulated DBAPI errors.
    except Exception:  # noqa: BLE001 - deliberate, see above: whatever failed, the answer is "not ready"
        return problem(503, "database unreachable")
    return {"status": "ok"}


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin token: routes and volumes are not for everyone)",
    response_class=Response,
    responses={
        200: {"description": "The Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def metrics(request: Request, _: Admin) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Count, time and log every HTTP request.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` (BaseHTTPMiddleware) runs each request
    through an extra task and memory streams, which cost more CPU than a small endpoint's own work.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        template = route_of(scope)
        method = scope["method"]
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                json.dumps({"method": method, "route": template, "status": status, "ms": round(elapsed * 1000, 1)})
            )


def install_request_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)


def configure_logging(level: str) -> None:
    install_log_redaction()  # no exception's message in any log: it could quote personal data
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # APScheduler logs every run of the one-second tick at INFO: keep its warnings and errors only.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
