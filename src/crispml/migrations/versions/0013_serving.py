"""Serving: endpoint configurations, endpoints, instances, the runtime, autoscaling, transform jobs; the
registry's record of which endpoint serves which model.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=63).with_variant(sa.String(length=63, collation='C'), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('registry_model_uses',
    sa.Column('model_name', _NAME, nullable=False),
    sa.Column('user', _NAME, nullable=False),
    sa.PrimaryKeyConstraint('model_name', 'user', name=op.f('pk_registry_model_uses'))
    )
    op.create_table('serving_endpoint_configs',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_serving_endpoint_configs'))
    )
    op.create_table('serving_endpoints',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('config_name', _NAME, nullable=False),
    sa.Column('pending_config', _NAME, nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('pending_definition', sa.Text(), nullable=True),
    sa.Column('variants', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_serving_endpoints'))
    )
    op.create_index('ix_serving_endpoints_config', 'serving_endpoints', ['config_name'], unique=False)
    op.create_table('serving_instances',
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint', _NAME, nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('config_name', _NAME, nullable=False),
    sa.Column('variant', sa.String(length=63), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_serving_instances'))
    )
    op.create_index('ix_serving_instances_endpoint', 'serving_instances', ['endpoint'], unique=False)
    op.create_table('serving_runtime',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('url', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_serving_runtime'))
    )
    op.create_table('serving_scalable_targets',
    sa.Column('resource_id', sa.String(length=1600), nullable=False),
    sa.Column('scalable_dimension', sa.String(length=64), nullable=False),
    sa.Column('min_capacity', sa.Integer(), nullable=False),
    sa.Column('max_capacity', sa.Integer(), nullable=False),
    sa.Column('role_arn', sa.String(length=1600), nullable=True),
    sa.Column('suspended_state', sa.Text(), nullable=False),
    sa.Column('last_scale_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_scale_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', name=op.f('pk_serving_scalable_targets'))
    )
    op.create_table('serving_scaling_activities',
    sa.Column('activity_id', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=1600), nullable=False),
    sa.Column('scalable_dimension', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('status_code', sa.String(length=32), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_serving_scaling_activities'))
    )
    op.create_index('ix_serving_scaling_activities_resource', 'serving_scaling_activities', ['resource_id', 'start_time'], unique=False)
    op.create_table('serving_scaling_policies',
    sa.Column('resource_id', sa.String(length=1600), nullable=False),
    sa.Column('policy_name', sa.String(length=256), nullable=False),
    sa.Column('scalable_dimension', sa.String(length=64), nullable=False),
    sa.Column('policy_type', sa.String(length=32), nullable=False),
    sa.Column('configuration', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'policy_name', name=op.f('pk_serving_scaling_policies'))
    )
    op.create_table('serving_transform_jobs',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('seq', _ID, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('model_name', _NAME, nullable=False),
    sa.Column('inputs', sa.Text(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_serving_transform_jobs')),
    sa.UniqueConstraint('seq', name=op.f('uq_serving_transform_jobs_seq'))
    )
    op.create_index('ix_serving_transform_jobs_status', 'serving_transform_jobs', ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_serving_transform_jobs_status', table_name='serving_transform_jobs')
    op.drop_table('serving_transform_jobs')
    op.drop_table('serving_scaling_policies')
    op.drop_index('ix_serving_scaling_activities_resource', table_name='serving_scaling_activities')
    op.drop_table('serving_scaling_activities')
    op.drop_table('serving_scalable_targets')
    op.drop_table('serving_runtime')
    op.drop_index('ix_serving_instances_endpoint', table_name='serving_instances')
    op.drop_table('serving_instances')
    op.drop_index('ix_serving_endpoints_config', table_name='serving_endpoints')
    op.drop_table('serving_endpoints')
    op.drop_table('serving_endpoint_configs')
    op.drop_table('registry_model_uses')
