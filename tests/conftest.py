"""Database fixtures: every test that asks for `client` or `db` runs on SQLite and on PostgreSQL.

Each backend gets a fresh database migrated by Alembic once per session; each test starts from
empty tables (plus the small area tree below), so tests are isolated yet see real commits, which
the concurrency tests need.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import delete

from service.app import close_offer_streams, create_app
from service.areas.models import Area
from service.catalogue import seeded_items
from service.items.models import CatalogueItem
from service.migrate import migrate
from service.models import metadata
from service.settings import Settings
from service.tokens.service import create_token
from service.transactions import unit
from tests.proxy import TcpProxy

BACKENDS = [b for b in os.environ.get("HOMECARE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_ADMIN_DSN = os.environ.get("HOMECARE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

AREAS = [
    ("530111", "官渡区", "county", None),
    ("530111001", "关上街道", "street", "530111"),
    ("530111001001", "关上社区", "community", "530111001"),
    ("530111001002", "关兴社区", "community", "530111001"),
    ("530111002", "太和街道", "street", "530111"),
    ("530111002001", "太和社区", "community", "530111002"),
    ("460106", "龙华区", "county", None),
    ("460106001", "中山街道", "street", "460106"),
    ("460106001001", "博爱社区", "community", "460106001"),
]


async def recreate_pg_database(name: str, drop_only: bool = False) -> str:
    """Drop the test database `name` (closing its connections) and, unless drop_only, create it empty.
    (benchmarks/pg.py does the same for the benchmarks; the suite does not import them.)"""
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+asyncpg://")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite')}/homecare.db"
        migrate(url)
        yield url
        return
    name = f"homecare_test_{os.getpid()}"
    url = asyncio.run(recreate_pg_database(name))
    migrate(url)
    yield url
    asyncio.run(recreate_pg_database(name, drop_only=True))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, scheduler_enabled=False)


@pytest.fixture(scope="session")
async def app(settings: Settings):
    application = create_app(settings)
    yield application
    await close_offer_streams(application)
    await application.state.engine.dispose()


@pytest.fixture
async def db(app):
    """A clean database with the test area tree; yields the app's session factory."""
    await clean_database(app.state.sessions)
    return app.state.sessions


async def clean_database(sessions):
    """Empty every table, then add the small area tree above; returns the session factory."""
    async with sessions() as session:
        for table in reversed(metadata.sorted_tables):
            await session.exec(delete(table))
        session.add_all(Area(code=c, name=n, level=lvl, parent_code=p) for c, n, lvl, p in AREAS)
        session.add_all(CatalogueItem(**row) for row in seeded_items())  # the catalogue as migrated
        await session.commit()
    return sessions


@pytest.fixture
async def client(app, db) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def live(app, db) -> AsyncIterator[str]:
    """The session's app on a real uvicorn server (no lifespan: the app is shared): its base URL. For
    streams, which httpx's ASGITransport hands over only once complete."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    )
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(60):  # a bound against a hang, not a timing assertion
        while not server.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await serving


TokenFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def token(db) -> TokenFactory:
    """`await token("admin")` → Authorization headers for a fresh token of that role."""
    return token_factory(db)


def token_factory(sessions) -> TokenFactory:
    async def make(
        role: str, *, provider_id: int | None = None, area_code: str | None = None, gateway_id: int | None = None
    ) -> dict[str, str]:
        async with unit(sessions) as session:
            value = await create_token(
                session,
                role=role,
                name=f"test-{role}",
                provider_id=provider_id,
                area_code=area_code,
                gateway_id=gateway_id,
            )
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
async def pg_proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test PostgreSQL, to stage outages (tests/proxy.py); skips on SQLite."""
    if settings.is_sqlite:
        pytest.skip("a database outage is staged with a TCP proxy in front of PostgreSQL")
    async with TcpProxy.before(settings.database_url) as proxy:
        yield proxy
