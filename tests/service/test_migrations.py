"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.models import metadata

pytestmark = pytest.mark.asyncio


# SQLite: Alembic cannot reflect expression indexes, so it leaves PostgreSQL's reverse(id_number) index uncompared.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_migrated_database_matches_the_models(app, db):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with app.state.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
