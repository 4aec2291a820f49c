"""devices, gateways, the call log and complaint tickets (issue 13, items 5-7)

The device registry with its gateways and the alerts each device raised; the 12349 call log; complaint
tickets; tokens of role `gateway` (bound to a gateway) and operator tokens bound to an area (a street's
seat); the complaints counted in a provider's monthly quality.

Revision ID: 0006_devices_calls_complaints
Revises: 0005_console_users
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0006_devices_calls_complaints'
down_revision: str | None = '0005_console_users'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('admin', 'operator', 'provider', 'regulator')"
NEW_ROLES = "role IN ('admin', 'operator', 'provider', 'regulator', 'gateway')"
OLD_AREA_BINDING = "(role = 'regulator') = (area_code IS NOT NULL)"
NEW_AREA_BINDING = ("(role = 'regulator' AND area_code IS NOT NULL) OR role = 'operator' "
                    "OR (role NOT IN ('regulator', 'operator') AND area_code IS NULL)")
GATEWAY_BINDING = "(role = 'gateway') = (gateway_id IS NOT NULL)"


def _token_rules(roles: str, area_binding: str, gateway: bool) -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_api_token_token_role'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_api_token_token_area_binding'), type_='check')
        if gateway:
            batch_op.add_column(sa.Column('gateway_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f('fk_api_token_gateway_id_device_gateway'), 'device_gateway',
                                        ['gateway_id'], ['id'])
            batch_op.create_check_constraint('token_gateway_binding', GATEWAY_BINDING)
        else:
            batch_op.drop_constraint(batch_op.f('ck_api_token_token_gateway_binding'), type_='check')
            batch_op.drop_constraint(batch_op.f('fk_api_token_gateway_id_device_gateway'), type_='foreignkey')
            batch_op.drop_column('gateway_id')
        batch_op.create_check_constraint('token_role', roles)
        batch_op.create_check_constraint('token_area_binding', area_binding)


def upgrade() -> None:
    op.create_table('device_gateway',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_gateway')),
    sa.UniqueConstraint('name', name=op.f('uq_device_gateway_name'))
    )
    op.create_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('last_seen_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('battery', sa.Integer(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('one_touch', 'fall_sensor', 'smoke_sensor', 'gas_sensor', 'water_sensor', 'door_sensor', 'motion_sensor', 'health_monitor')", name=op.f('ck_device_device_kind')),
    sa.CheckConstraint("status IN ('active', 'retired')", name=op.f('ck_device_device_status')),
    sa.CheckConstraint('battery IS NULL OR battery BETWEEN 0 AND 100', name=op.f('ck_device_device_battery')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_device_elder_id_elder')),
    sa.ForeignKeyConstraint(['gateway_id'], ['device_gateway.id'], name=op.f('fk_device_gateway_id_device_gateway')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('device_id', name=op.f('uq_device_device_id'))
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_elder_id'), ['elder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_gateway_id'), ['gateway_id'], unique=False)
        batch_op.create_index('ix_device_status_last_seen', ['status', 'last_seen_at'], unique=False)

    op.create_table('call_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('callback_of', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('request_created', 'answered', 'complaint_opened', 'referred', 'needs_callback', 'no_answer', 'reached_well', 'reached_needs_help')", name=op.f('ck_call_record_call_outcome')),
    sa.CheckConstraint("type IN ('request', 'enquiry', 'complaint', 'hang_up', 'callback', 'proactive')", name=op.f('ck_call_record_call_type')),
    sa.CheckConstraint('elder_id IS NOT NULL OR phone IS NOT NULL', name=op.f('ck_call_record_call_who')),
    sa.ForeignKeyConstraint(['callback_of'], ['call_record.id'], name=op.f('fk_call_record_callback_of_call_record')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_call_record_elder_id_elder')),
    sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], name=op.f('fk_call_record_request_id_service_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_record'))
    )
    with op.batch_alter_table('call_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_record_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_record_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_record_callback_of'), ['callback_of'], unique=False)
        batch_op.create_index('ix_call_record_elder_at', ['elder_id', 'at'], unique=False)

    op.create_table('device_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('joined', sa.Boolean(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['device.id'], name=op.f('fk_device_alert_device_pk_device')),
    sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], name=op.f('fk_device_alert_request_id_service_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_alert'))
    )
    with op.batch_alter_table('device_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_alert_device_pk'), ['device_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_alert_request_id'), ['request_id'], unique=False)

    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('elder_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('opened_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('opened_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('answered_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('resolved_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'sent', 'answered', 'resolved')", name=op.f('ck_complaint_complaint_status')),
    sa.CheckConstraint("status NOT IN ('sent', 'answered') OR provider_id IS NOT NULL", name=op.f('ck_complaint_complaint_sent_to_provider')),
    sa.ForeignKeyConstraint(['call_id'], ['call_record.id'], name=op.f('fk_complaint_call_id_call_record')),
    sa.ForeignKeyConstraint(['elder_id'], ['elder.id'], name=op.f('fk_complaint_elder_id_elder')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_up.id'], name=op.f('fk_complaint_follow_up_id_follow_up')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_complaint_provider_id_provider')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_complaint_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint')),
    sa.UniqueConstraint('follow_up_id', name=op.f('uq_complaint_follow_up_id'))
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_elder_id'), ['elder_id'], unique=False)
        batch_op.create_index('ix_complaint_provider_opened', ['provider_id', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_visit_id'), ['visit_id'], unique=False)

    _token_rules(NEW_ROLES, NEW_AREA_BINDING, gateway=True)
    with op.batch_alter_table('provider_quality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaints', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('provider_quality', schema=None) as batch_op:
        batch_op.drop_column('complaints')

    op.execute("DELETE FROM api_token WHERE role = 'gateway' OR (role = 'operator' AND area_code IS NOT NULL)")
    _token_rules(OLD_ROLES, OLD_AREA_BINDING, gateway=False)

    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_visit_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_status'))
        batch_op.drop_index('ix_complaint_provider_opened')
        batch_op.drop_index(batch_op.f('ix_complaint_elder_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_area_code'))

    op.drop_table('complaint')
    with op.batch_alter_table('device_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_alert_request_id'))
        batch_op.drop_index(batch_op.f('ix_device_alert_device_pk'))

    op.drop_table('device_alert')
    with op.batch_alter_table('call_record', schema=None) as batch_op:
        batch_op.drop_index('ix_call_record_elder_at')
        batch_op.drop_index(batch_op.f('ix_call_record_callback_of'))
        batch_op.drop_index(batch_op.f('ix_call_record_at'))
        batch_op.drop_index(batch_op.f('ix_call_record_area_code'))

    op.drop_table('call_record')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index('ix_device_status_last_seen')
        batch_op.drop_index(batch_op.f('ix_device_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_device_elder_id'))

    op.drop_table('device')
    op.drop_table('device_gateway')
