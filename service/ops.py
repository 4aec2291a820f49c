"""Operations endpoints and request metrics: /livez, /readyz, /metrics, structured access logs."""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text

from service.errors import problem

router = APIRouter(tags=["operations"])
log = logging.getLogger("homecare.access")


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("homecare_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("homecare_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry)


@router.get("/livez", summary="The process is alive (no database check)")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers", responses={503: {"description": "Database unreachable"}})
async def readyz(request: Request):
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not ready", whatever the driver raised
        return problem(503, "database unreachable")
    return {"status": "ok"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def install_request_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def _observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        # The route template, never the concrete path: paths carry ids, which are personal data.
        template = getattr(route, "path", "unmatched")
        app.state.metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        app.state.metrics.latency.labels(request.method, template).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(json.dumps({"method": request.method, "route": template, "status": response.status_code,
                                 "ms": round(elapsed * 1000, 1)}))
        return response


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # APScheduler logs every run of the one-second tick at INFO: keep its warnings and errors only.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
