"""escalation: the `escalated` request status, alert kinds and places, several offers of one emergency

An emergency not accepted in time is offered to the next nearest providers at once and, still not
accepted, goes to the operators' escalation queue (service/escalation). A request may now have several
`offered` assignments (never two to one provider) and still at most one `accepted`.

Revision ID: 0008_escalation
Revises: 0007_service_catalogue
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0008_escalation'
down_revision: str | None = '0007_service_catalogue'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('open', 'assigned', 'accepted', 'in_progress', 'completed', 'cancelled', 'unassignable', 'missed')"
_NEW = ("status IN ('open', 'assigned', 'accepted', 'in_progress', 'completed', 'cancelled', 'unassignable', "
        "'missed', 'escalated')")
_LIVE = "status IN ('offered', 'accepted')"
_TAKEN = "status IN ('accepted')"
_OFFERED = "status IN ('offered')"


def upgrade() -> None:
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('alert_lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('alert_lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_service_request_request_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_service_request_request_status'), sa.text(_NEW))
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_active_per_request', postgresql_where=sa.text(_LIVE),
                            sqlite_where=sa.text(_LIVE))
        batch_op.create_index('uq_assignment_taken_per_request', ['request_id'], unique=True,
                              postgresql_where=sa.text(_TAKEN), sqlite_where=sa.text(_TAKEN))
        batch_op.create_index('uq_assignment_offered_per_provider', ['request_id', 'provider_id'], unique=True,
                              postgresql_where=sa.text(_OFFERED), sqlite_where=sa.text(_OFFERED))


def downgrade() -> None:
    # Requests escalated meanwhile go back to `unassignable`, where operators looked before.
    op.execute("UPDATE service_request SET status = 'unassignable' WHERE status = 'escalated'")
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_offered_per_provider', postgresql_where=sa.text(_OFFERED),
                            sqlite_where=sa.text(_OFFERED))
        batch_op.drop_index('uq_assignment_taken_per_request', postgresql_where=sa.text(_TAKEN),
                            sqlite_where=sa.text(_TAKEN))
        batch_op.create_index('uq_assignment_active_per_request', ['request_id'], unique=True,
                              postgresql_where=sa.text(_LIVE), sqlite_where=sa.text(_LIVE))
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_service_request_request_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_service_request_request_status'), sa.text(_OLD))
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('alert_lon')
        batch_op.drop_column('alert_lat')
        batch_op.drop_column('alert_kind')
