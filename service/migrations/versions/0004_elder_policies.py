"""elder categories, assessments, contacts and entitlement policies

Elders as the programmes know them (recorded categories with date and source, GB/T 42195 ability
assessments, family and guardian contacts), the versioned entitlement policy, and the reason of an
operator's override of an elder's visits a month.

Revision ID: 0004_elder_policies
Revises: 0003_token_last_used
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0004_elder_policies'
down_revision: str | None = '0003_token_last_used'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('entitlement_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('effective_to IS NULL OR effective_to >= effective_from', name=op.f('ck_entitlement_policy_entitlement_policy_period')),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_entitlement_policy_area_code_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlement_policy'))
    )
    with op.batch_alter_table('entitlement_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_policy_area_code'), ['area_code'], unique=False)

    op.create_table('ability_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('assessor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('next_review_on', sa.Date(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("level IN ('intact', 'mild', 'moderate', 'severe', 'total')", name=op.f('ck_ability_assessment_ability_assessment_level')),
    sa.CheckConstraint('next_review_on > assessed_on', name=op.f('ck_ability_assessment_ability_assessment_review_after')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_ability_assessment_elder_id_elder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ability_assessment'))
    )
    with op.batch_alter_table('ability_assessment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ability_assessment_elder_id'), ['elder_id'], unique=False)

    op.create_table('elder_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('recorded_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('living_alone', 'empty_nest', 'dibao', 'tekun', 'youfu')", name=op.f('ck_elder_category_elder_category_code')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_elder_category_elder_id_elder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elder_category')),
    sa.UniqueConstraint('elder_id', 'category', name='uq_elder_category')
    )
    with op.batch_alter_table('elder_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_elder_category_elder_id'), ['elder_id'], unique=False)

    op.create_table('elder_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('relation', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
    sa.Column('guardian', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("relation IN ('spouse', 'child', 'relative', 'guardian', 'neighbour', 'other')", name=op.f('ck_elder_contact_elder_contact_relation')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_elder_contact_elder_id_elder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elder_contact'))
    )
    with op.batch_alter_table('elder_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_elder_contact_elder_id'), ['elder_id'], unique=False)

    with op.batch_alter_table('elder', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visits_override_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('elder', schema=None) as batch_op:
        batch_op.drop_column('visits_override_reason')

    with op.batch_alter_table('elder_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_elder_contact_elder_id'))

    op.drop_table('elder_contact')
    with op.batch_alter_table('elder_category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_elder_category_elder_id'))

    op.drop_table('elder_category')
    with op.batch_alter_table('ability_assessment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ability_assessment_elder_id'))

    op.drop_table('ability_assessment')
    with op.batch_alter_table('entitlement_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_policy_area_code'))

    op.drop_table('entitlement_policy')
