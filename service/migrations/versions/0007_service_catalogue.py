"""the service catalogue: items of the helps in versions, and the item a request carries

Seeds the catalogue with the items of the six helps (and the two other helps the programmes fund), each
in force from 2000-01-01; service_request gains `item` (NULL: the help's default item).

Revision ID: 0007_service_catalogue
Revises: 0006_devices_calls_complaints
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db
from service.catalogue import seeded_items

revision: str = '0007_service_catalogue'
down_revision: str | None = '0006_devices_calls_complaints'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('catalogue_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('help', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('min_minutes', sa.Integer(), nullable=True),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('counts_toward_entitlement', sa.Boolean(), nullable=False),
    sa.Column('tasks', sa.JSON(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("help IN ('emergency', 'meal', 'clean', 'medical', 'mobility', 'recreation', 'companionship', 'health')", name=op.f('ck_catalogue_item_catalogue_item_help')),
    sa.CheckConstraint("unit IN ('visit', 'meal', 'trip', 'session')", name=op.f('ck_catalogue_item_catalogue_item_unit')),
    sa.CheckConstraint("place IN ('home', 'from_home', 'door', 'centre')", name=op.f('ck_catalogue_item_catalogue_item_place')),
    sa.CheckConstraint('min_minutes IS NULL OR min_minutes BETWEEN 1 AND 480', name=op.f('ck_catalogue_item_catalogue_item_min_minutes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_item')),
    sa.UniqueConstraint('code', 'effective_from', name='uq_catalogue_item_version')
    )
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_item_code'), ['code'], unique=False)
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
    op.bulk_insert(table, seeded_items())


def downgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_column('item')
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_item_code'))
    op.drop_table('catalogue_item')
