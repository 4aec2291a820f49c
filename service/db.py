"""Database engine, sessions and the column types both databases must agree on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import Conflict, database_unavailable


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on both databases.

    SQLite stores datetimes as text without an offset and hands back naive values; this type
    refuses naive input and re-attaches UTC on the way out, so the application only sees aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _prepare_sqlite(engine: AsyncEngine, *, read_only: bool) -> None:
    # WAL lets readers run beside one writer; BEGIN IMMEDIATE takes the write lock up front, so two
    # writers queue on busy_timeout instead of failing with "database is locked" mid-transaction. A read-only
    # engine's transactions begin deferred: they read one snapshot and never take the write lock.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def asyncpg_dsn(database_url: str) -> str:
    """The database URL as asyncpg's own connect() takes it, for connections outside the engine's pool."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


# The server probes a silent client after 10 s, every 5 s, three times: a transaction whose API host vanished
# (power, network) ends within half a minute, and with it the locks it held, an Idempotency-Key's among them
# (a killed process's connection is closed by its OS at once). Long transactions of live clients are untouched.
PEER_CHECKS = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}


def make_engine(database_url: str, *, pool_size: int = 30, read_only: bool = False) -> AsyncEngine:
    """The engine of an API process (30 connections), or with `read_only` a small one of `pool_size`
    connections whose sessions cannot write (the reports' own, service/reports/lane.py)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        on_disk = bool(url.database) and url.database != ":memory:"
        if on_disk:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failed statement's error (logged, or shown by the CLI) must not carry its values,
        # which are names, ID numbers, phones and addresses.
        sized = {"pool_size": pool_size, "max_overflow": 0} if read_only and on_disk else {}
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **sized)
        _prepare_sqlite(engine, read_only=read_only)
        return engine
    server_settings = dict(PEER_CHECKS)
    if read_only:
        server_settings["default_transaction_read_only"] = "on"
    # No pool_pre_ping: on asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) at every checkout,
    # more than the work of a small request. Instead a free look at checkout (`_drop_closed_connections`):
    # a connection whose socket the server has closed (a restart, a failover, an idle timeout) is never
    # handed out, and the first one found renews the whole pool. A connection that dies while in use fails
    # its request with 503 (service/errors.py); pool_recycle retires connections before the idle timeouts
    # of firewalls and proxies, which close nothing the client can see.
    # 30 connections kept, no overflow: SQLAlchemy closes an overflow connection as soon as it is returned,
    # so under load above the pool's size connections were opened and closed many times a second (a new
    # backend, its authentication and the driver's type introspection each time). Beyond 30 at once a
    # request waits for a free connection (503 with Retry-After after pool_timeout, 30 s).
    # A connection attempt gives up after CONNECT_TIMEOUT_S: a server that does not answer is a 503 then,
    # not a request held for asyncpg's default minute.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args={"timeout": CONNECT_TIMEOUT_S, "server_settings": server_settings},
    )
    _drop_closed_connections(engine)
    return engine


CONNECT_TIMEOUT_S = 10


def _drop_closed_connections(engine: AsyncEngine) -> None:
    # asyncpg learns that the server closed a connection as soon as the socket says so, while it idles in
    # the pool; asking costs no round trip. Raising InvalidatePoolError here makes SQLAlchemy replace this
    # connection and renew every connection older than now at its next checkout (after a restart they are
    # all dead), then hand out a fresh one: the request never sees the dead connection.
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection, _record, _proxy) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise InvalidatePoolError("the server closed this pooled connection")

    # SQLAlchemy's own test (is the socket closed?) misses a connection that has received the server's
    # FATAL but whose socket has not closed yet: such errors count as a disconnect too, so the connection
    # is thrown away with every older one rather than returned to the pool.
    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context) -> None:
        if not context.is_disconnect and database_unavailable(context.original_exception):
            context.is_disconnect = True


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The database driver's own connection (asyncpg's), from the engine's pool, outside any transaction:
    for the few hot statements whose cost through SQLAlchemy would be several times their own. Each
    statement on it commits by itself."""
    pooled = await engine.raw_connection()
    try:
        yield pooled.driver_connection
    except BaseException as exc:
        if pooled.driver_connection.is_closed() or database_unavailable(exc):  # dead, or as good as dead:
            await greenlet_spawn(pooled.invalidate)  # the pool must not hand it out again
        raise
    finally:
        # Back to the pool, in SQLAlchemy's async context: returning may have to close a connection.
        await greenlet_spawn(pooled.close)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def is_unique_violation(error: IntegrityError) -> bool:
    """A unique index or primary key refused the row: a clash with another row, not a bad value."""
    return getattr(error.orig, "pgcode", None) == "23505" or getattr(error.orig, "sqlite_errorname", None) in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )


async def close_session(session: AsyncSession) -> None:
    """Close a request's session. If its connection died meanwhile (a database restart), closing cannot roll
    back, and need not: the server ended the transaction with the connection, which SQLAlchemy has
    invalidated by now. That is no error of the request, whose answer may already be on its way."""
    try:
        await session.close()
    except Exception as exc:
        if not database_unavailable(exc):
            raise


async def flush_or_conflict(session: AsyncSession, clash: str) -> None:
    """Write what the session holds, leaving its transaction open for whoever opened it to commit (with an
    Idempotency-Key's answer, say); a unique constraint that a racing writer won becomes a 409 saying what
    clashed. Any other constraint (NOT NULL, CHECK) is a value the edge should have refused with a 422: it is
    not reported as a clash (a null once came back as "ID number already registered") but raised as the bug
    it is."""
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        if not is_unique_violation(error):
            raise
        raise Conflict(clash) from None
