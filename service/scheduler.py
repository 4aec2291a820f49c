"""The scheduler's jobs (APScheduler 3.11), in the API process (embedded) or a leader process.

All jobs are safe to run twice: every change they make is a conditional UPDATE or an insert
guarded by a unique constraint. The dispatch tick also runs the moment new work appears (poke).
The jobs are given the scheduler's sessionmaker and commit their own units of work (service/transactions.py):
the services they call never commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker

from service.db import make_engine, make_sessionmaker, utcnow
from service.dispatching import sweeps
from service.dispatching.faults import describe
from service.dispatching.open_requests import Registry, dispatch_open_requests
from service.dispatching.plans import run_plan
from service.dispatching.wakeup import OfferNotifier, watch_offers
from service.escalation import sweep as escalation
from service.heartbeat import Heartbeat
from service.months import month_of, previous_month
from service.quality.service import assess_month
from service.settings import Settings
from service.transactions import unit

log = logging.getLogger("homecare.scheduler")


# Work that arrives while a tick runs is gathered this long before the next tick, so that under load each
# tick finds many requests to offer together; an emergency never waits for it.
GATHER_S = 0.05


class Dispatcher:
    """Runs the dispatch tick, never twice at once; a poke during a run runs it once more (after GATHER_S,
    or at once for an emergency), and a poke for an emergency also cuts the running tick short so the
    emergency is selected next."""

    def __init__(self, sessions: async_sessionmaker, settings: Settings) -> None:
        self._sessions, self._settings = sessions, settings
        self._lock = asyncio.Lock()
        self._again = False
        self._emergency = False
        self._stopping = False
        self._hurry = asyncio.Event()  # an emergency or the shutdown: stop gathering
        self._registry = Registry(settings)
        self._tasks: set[asyncio.Task] = set()

    async def tick(self) -> int:
        if self._stopping:
            return 0
        if self._lock.locked():
            self._again = True
            return 0
        dispatched = 0
        async with self._lock:
            while True:
                self._again = self._emergency = False
                unfinished = False
                try:
                    tick = await dispatch_open_requests(
                        self._sessions,
                        self._settings,
                        registry=self._registry,
                        interrupt=lambda: self._emergency or self._stopping,
                    )
                    dispatched, unfinished = dispatched + tick.offered, tick.unfinished
                except Exception as exc:  # a failed tick must not stop the next one
                    # One line without the exception's message (a driver's can quote a row's personal data);
                    # a request's own fault never gets here, the tick sets it aside (dispatching/faults.py).
                    log.error("dispatch tick failed: %s", describe(exc))
                    log.debug("dispatch tick failure", exc_info=True)
                if self._stopping or not (self._again or unfinished):
                    return dispatched
                if not (unfinished or self._emergency):
                    await self._gather()

    async def _gather(self) -> None:
        self._hurry.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GATHER_S):
                await self._hurry.wait()

    async def finish(self, timeout_s: float = 10.0) -> None:
        """At shutdown: let the tick in progress end its offer, rather than cancel it midway."""
        self._stopping = True
        self._hurry.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._lock:
                pass

    def poke(self, emergency: bool = False) -> None:
        self._emergency = self._emergency or emergency
        if emergency:
            self._hurry.set()
        task = asyncio.get_running_loop().create_task(self.tick())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class Jobs:
    """The periodic jobs. Each sweeps row by row where a row can fail for its own sake: such a row is logged,
    marked and passed by from then on (`_skip`, per job, for this process's life), the others are swept."""

    def __init__(self, sessions: async_sessionmaker, settings: Settings, dispatcher: Dispatcher) -> None:
        self.sessions, self.settings, self.dispatcher = sessions, settings, dispatcher
        self._skip: dict[str, set] = defaultdict(set)
        self._registry = Registry(settings)  # the escalation sweep's providers, kept while the registry stays

    async def _guarded(self, name: str, work):
        """`work(sessions)`, its failure logged: the job runs again at its next time."""
        try:
            result = await work(self.sessions)
            if result:
                log.info("%s: %s", name, result)
            return result
        except Exception as exc:  # the database away, most likely: the job runs again at its next time
            log.error("job %s failed: %s", name, describe(exc))
            log.debug("job %s failure", name, exc_info=True)
            return None

    async def expire_offers(self) -> None:
        expired = await self._guarded(
            "offer expiry",
            lambda s: sweeps.expire_offers(s, now=utcnow(), settings=self.settings, skip=self._skip["offer expiry"]),
        )
        if expired:  # their requests are open again; any of them may be an emergency's, so no gathering
            self.dispatcher.poke(emergency=True)

    async def escalate_emergencies(self) -> None:
        # Its offers reach the provider apps' streams as any offer does (wakeup.watch_offers).
        await self._guarded(
            "escalation",
            lambda s: escalation.escalate_emergencies(
                s, now=utcnow(), settings=self.settings, skip=self._skip["escalation"], registry=self._registry
            ),
        )

    async def sweep_check_outs(self) -> None:
        await self._guarded(
            "missing check-outs",
            lambda s: sweeps.flag_missing_check_outs(
                s, now=utcnow(), settings=self.settings, skip=self._skip["missing check-outs"]
            ),
        )

    async def forget_idempotency_keys(self) -> None:
        await self._guarded(
            "idempotency keys",
            lambda s: sweeps.forget_idempotency_keys(s, now=utcnow(), skip=self._skip["idempotency keys"]),
        )

    async def close_last_month(self) -> None:
        month = previous_month(month_of(utcnow(), self.settings.tz))
        await self._guarded(
            "missed visits", lambda s: sweeps.mark_missed(s, month, now=utcnow(), skip=self._skip["missed visits"])
        )

    async def assess_provider_quality(self) -> None:
        month = previous_month(month_of(utcnow(), self.settings.tz))

        async def assess(sessions) -> str:
            async with unit(sessions) as session:
                rows = await assess_month(session, month, self.settings, now=utcnow())
            return f"{month}: {len(rows)} providers scored, {sum(r.suspended for r in rows)} suspended"

        await self._guarded("provider quality", assess)

    async def plan_this_month(self, at: datetime | None = None) -> None:
        month = month_of(at or utcnow(), self.settings.tz)
        try:  # an elder's bad data never fails the plan (plans.py); a failure is recorded on the plan too
            await run_plan(self.sessions, self.settings, month, actor="scheduler")
        except Exception as exc:
            log.error("monthly plan for %s failed: %s", month, describe(exc))
            log.debug("monthly plan failure", exc_info=True)


def build_scheduler(sessions: async_sessionmaker, settings: Settings, dispatcher: Dispatcher) -> AsyncIOScheduler:
    jobs = Jobs(sessions, settings, dispatcher)
    scheduler = AsyncIOScheduler(
        timezone=settings.tz,
        # The default misfire grace is 1 s and applies only through job_defaults.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    scheduler.add_job(dispatcher.tick, "interval", seconds=settings.dispatch_tick_s, id="dispatch_tick")
    scheduler.add_job(jobs.expire_offers, "interval", seconds=15, id="offer_expiry")
    # Every second: an unanswered emergency reaches the next providers within escalate_after_s + 1 s.
    scheduler.add_job(jobs.escalate_emergencies, "interval", seconds=1, id="escalation")
    scheduler.add_job(jobs.sweep_check_outs, "interval", minutes=5, id="missing_check_out")
    scheduler.add_job(jobs.forget_idempotency_keys, "cron", hour=3, minute=30, id="idempotency_keys")
    scheduler.add_job(jobs.close_last_month, "cron", day=1, hour=0, minute=5, id="missed_visits")
    scheduler.add_job(jobs.plan_this_month, "cron", day=1, hour=0, minute=10, id="monthly_plan")
    # On the 2nd: late uploads from phones that were offline at the month's end have come in by then.
    scheduler.add_job(jobs.assess_provider_quality, "cron", day=2, hour=1, minute=0, id="provider_quality")
    return scheduler


@contextlib.asynccontextmanager
async def running_jobs(
    settings: Settings, on_offers: Callable[[frozenset[int]], None] | None = None
) -> AsyncIterator[Dispatcher]:
    """The jobs running on this event loop with an engine of their own; yields their dispatcher to poke.

    Each commit of new offers calls `on_offers` (given: the embedding API process's hub on SQLite) or, on
    PostgreSQL, is NOTIFYed on OFFERS_CHANNEL to the API processes' offer streams.

    On the way out: no new runs; then, when the block ended normally (a shutdown), the dispatch tick's offer
    in progress is finished, but when it raised (the leader lost its lock, and another scheduler may lead
    now) every job still running is cancelled at once. APScheduler cancels the jobs still running at its
    shutdown; each is a transaction and rolls back.
    """
    engine = make_engine(settings.database_url)
    offer_notifier = None
    if on_offers is None and not settings.is_sqlite:
        offer_notifier = OfferNotifier(settings.database_url)
        on_offers = offer_notifier.poke
    if on_offers is not None:
        watch_offers(engine, on_offers)
    sessions = make_sessionmaker(engine)
    dispatcher = Dispatcher(sessions, settings)
    scheduler = build_scheduler(sessions, settings, dispatcher)
    scheduler.start()
    abandoned = False
    try:
        yield dispatcher
    except BaseException:
        abandoned = True
        raise
    finally:
        scheduler.pause()
        await dispatcher.finish(timeout_s=0 if abandoned else 10.0)
        scheduler.shutdown(wait=False)
        # Ticks a poke started and that are still running (abandoned, or past finish's wait): cancelled, and
        # given a moment to roll back before their engine goes.
        running = [task for task in dispatcher._tasks if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=5.0)
        if offer_notifier is not None:
            await offer_notifier.close()
        # Closing says goodbye on every pooled connection: bounded, for a server that has gone silent.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10.0):
                await engine.dispose()


class EmbeddedScheduler:
    """The scheduler inside the API process (`homecare serve`, `make run`), on a thread of its own with
    its own event loop and database engine.

    On the API's loop the dispatcher would wait its turn behind every request in flight, so under load
    an emergency's offer took as long as the busiest minute; on its own loop it is only ever behind the
    offer it is making. The API pokes it across threads (`poke`), as the leader process is poked by
    NOTIFY in production.
    """

    def __init__(self, settings: Settings, on_offers: Callable[[frozenset[int]], None] | None = None) -> None:
        self._settings, self._on_offers = settings, on_offers
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), name="homecare-scheduler", daemon=True
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.dispatcher: Dispatcher | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the embedded scheduler did not start")

    def poke(self, emergency: bool = False) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown: the tick would not run anyway
                self._loop.call_soon_threadsafe(self.dispatcher.poke, emergency)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)

    async def _main(self) -> None:
        # No lock to lose in this set-up: the jobs just run through a database outage, each of their runs
        # failing until it is back (the engine then renews its connections on its own).
        heartbeat = Heartbeat(self._settings.heartbeat_path, self._settings.heartbeat_s)
        async with heartbeat.beating(), running_jobs(self._settings, self._on_offers) as dispatcher:
            heartbeat.set("leader")
            self.dispatcher = dispatcher
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()
