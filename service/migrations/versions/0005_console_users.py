"""console: user accounts, server-side sessions, failed-login throttle; the caller search's name index

Revision ID: 0005_console_users
Revises: 0004_elder_policies
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0005_console_users'
down_revision: str | None = '0004_elder_policies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('centre', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'operator', 'regulator')", name=op.f('ck_user_account_user_role')),
    sa.CheckConstraint("(role = 'regulator') = (area_code IS NOT NULL)",
                       name=op.f('ck_user_account_user_area_binding')),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_user_account_area_code_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    op.create_table('console_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_console_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_console_session_token_hash'))
    )
    op.create_index('ix_console_session_user', 'console_session', ['user_id'], unique=False)
    # The operator's caller search by a name's beginning (service/console/models.py)
    op.create_index('ix_elder_name_pattern', 'elder', ['name'], unique=False,
                    postgresql_ops={'name': 'text_pattern_ops'})
    op.create_table('login_throttle',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )


def downgrade() -> None:
    op.drop_index('ix_elder_name_pattern', table_name='elder')
    op.drop_table('login_throttle')
    op.drop_index('ix_console_session_user', table_name='console_session')
    op.drop_table('console_session')
    op.drop_table('user_account')
