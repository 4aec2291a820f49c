"""The application factory: one FastAPI app per settings object."""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from service.areas.router import router as areas_router
from service.auth import PrincipalCache
from service.calls.router import router as calls_router
from service.complaints.router import router as complaints_router
from service.console.router import install_console
from service.db import make_engine, make_sessionmaker
from service.devices.router import router as devices_router
from service.dispatching.router import router as plans_router
from service.dispatching.wakeup import Notifier, OfferNotifier, watch_offers
from service.elders.router import router as elders_router
from service.entitlements.router import router as policies_router
from service.errors import install_error_handlers
from service.escalation.router import router as escalation_router
from service.followups.router import router as followups_router
from service.items.router import router as items_router
from service.limits import BodyLimits
from service.openapi import install_openapi
from service.ops import Metrics, configure_logging, install_request_metrics
from service.ops import router as ops_router
from service.proactive.router import router as proactive_router
from service.provider_app.router import router as provider_app_router
from service.provider_app.stream import OfferHub
from service.providers.router import router as providers_router
from service.quality.router import router as quality_router
from service.reports.lane import ReportLane
from service.reports.router import router as reports_router
from service.requests.router import router as requests_router
from service.settings import Settings, get_settings
from service.tokens.lookups import TokenLookups
from service.tokens.router import router as tokens_router


def create_app(settings: Settings | None = None, *, run_scheduler: bool = False) -> FastAPI:
    """Build the app. The scheduler runs inside it only when asked (embedded `homecare serve`)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        scheduler = None
        if run_scheduler:
            from service.scheduler import EmbeddedScheduler

            loop = asyncio.get_running_loop()
            scheduler = EmbeddedScheduler(
                settings,
                on_offers=None
                if app.state.offer_notifier
                else (lambda providers: loop.call_soon_threadsafe(app.state.offer_hub.poke, providers)),
            )
            await asyncio.to_thread(scheduler.start)
            app.state.dispatcher = scheduler  # the routes poke it when there is new work
        # What start-up made (modules, mappers, schemas, routes) lives as long as the process: out of the
        # collector's sight, a full collection scans only what requests make. Building a month's exceptions
        # (tens of thousands of objects) set off full collections of 200-450 ms that stopped the event loop,
        # and every create behind it; 15-85 ms with this.
        gc.freeze()
        try:
            yield
        finally:
            if scheduler is not None:
                await asyncio.to_thread(scheduler.stop)
            elif isinstance(app.state.dispatcher, Notifier):
                await app.state.dispatcher.close()
            await close_offer_streams(app)
            for task in list(app.state.background):
                task.cancel()
            await app.state.reports.close()
            await app.state.engine.dispose()

    # /docs and /redoc as FastAPI makes them, their scripts and styles served by the app itself
    # (/static-offline-docs): government intranets reach no CDN.
    app = FastAPIOffline(
        title="homecare-dispatch",
        version="1.0",
        summary="Dispatch and supervision of government-funded home-care visits for elders",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.sessions = make_sessionmaker(app.state.engine)
    app.state.reports = ReportLane(settings)  # reports' own turns and connections, apart from the pool above
    app.state.metrics = Metrics()
    app.state.principals = PrincipalCache(settings.token_cache_s)
    app.state.token_lookups = TokenLookups(lambda: app.state.sessions)
    app.state.offer_hub = OfferHub(settings, app.state.sessions)  # wakes the provider apps' offer streams
    # Offers committed through this process's engine (a plan run here) are announced as the scheduler's
    # are: by NOTIFY on PostgreSQL, to every API process's hub; on SQLite to this process's own.
    app.state.offer_notifier = None if settings.is_sqlite else OfferNotifier(settings.database_url)
    watch_offers(
        app.state.engine, app.state.offer_notifier.poke if app.state.offer_notifier else app.state.offer_hub.poke
    )
    # Without a scheduler of its own, an API process on PostgreSQL wakes the leader scheduler by NOTIFY.
    app.state.dispatcher = None if settings.is_sqlite else Notifier(settings.database_url)
    install_error_handlers(app)
    # Bodies are bounded inside the metrics, so that refusals are counted and logged like any answer.
    app.add_middleware(BodyLimits, max_body_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_s)
    install_request_metrics(app)
    app.state.background = set()  # plans started on demand, kept referenced until they finish
    # Routers are matched in this order, route by route: the call centre's and the provider apps' come first.
    for router in (
        requests_router,
        escalation_router,
        provider_app_router,
        ops_router,
        areas_router,
        elders_router,
        providers_router,
        plans_router,
        followups_router,
        reports_router,
        quality_router,
        tokens_router,
        devices_router,
        calls_router,
        complaints_router,
        proactive_router,
        policies_router,
        items_router,
    ):
        app.include_router(router)
    install_console(app)  # the browser console (HTML, its own sessions): `/` leads to its login page
    install_openapi(app)
    return app


async def close_offer_streams(app: FastAPI) -> None:
    """At shutdown: the offer hub's listener and the offer notifier's connection."""
    await app.state.offer_hub.close()
    if app.state.offer_notifier is not None:
        await app.state.offer_notifier.close()
