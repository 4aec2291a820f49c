"""the caller search by the end of an ID number: an index on reverse(id_number), PostgreSQL only

`LIKE '%123456'` reads every elder; `reverse(id_number) LIKE '654321%'` is a prefix lookup on this index
(`text_pattern_ops`, so whatever the database's collation). SQLite has no reverse(): nothing to do there
(service/console/models.py declares the index with `ddl_if(dialect="postgresql")`).

Revision ID: 0009_elder_id_tail_index
Revises: 0008_escalation
Create Date: 2026-12-02
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0009_elder_id_tail_index'
down_revision: str | None = '0008_escalation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_elder_id_number_reversed ON elder (reverse(id_number) text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_elder_id_number_reversed", table_name="elder")
