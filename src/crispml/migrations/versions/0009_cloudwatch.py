"""CloudWatch Logs (log groups, streams, events) and CloudWatch metrics (series, data points).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME_512 = sa.String(length=512).with_variant(sa.String(length=512, collation='C'), 'postgresql')
_NAME_255 = sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('monitoring_log_events',
    sa.Column('seq', _ID, autoincrement=True, nullable=False),
    sa.Column('stream_id', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('ingestion_time', sa.BigInteger(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_monitoring_log_events'))
    )
    with op.batch_alter_table('monitoring_log_events', schema=None) as batch_op:
        batch_op.create_index('ix_monitoring_log_events_stream_ts_seq', ['stream_id', 'timestamp', 'seq'], unique=False)

    op.create_table('monitoring_log_groups',
    sa.Column('name', _NAME_512, nullable=False),
    sa.Column('creation_time', sa.BigInteger(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_monitoring_log_groups'))
    )
    op.create_table('monitoring_metric_points',
    sa.Column('seq', _ID, autoincrement=True, nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_monitoring_metric_points'))
    )
    with op.batch_alter_table('monitoring_metric_points', schema=None) as batch_op:
        batch_op.create_index('ix_monitoring_metric_points_series_ts', ['series_id', 'timestamp'], unique=False)

    op.create_table('monitoring_metric_series',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('namespace', _NAME_255, nullable=False),
    sa.Column('metric_name', _NAME_255, nullable=False),
    sa.Column('dimensions', sa.Text(), nullable=False),
    sa.Column('dimensions_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_metric_series')),
    sa.UniqueConstraint('namespace', 'metric_name', 'dimensions_digest', name='uq_monitoring_metric_series_namespace')
    )
    op.create_table('monitoring_log_streams',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('group_name', _NAME_512, nullable=False),
    sa.Column('name', _NAME_512, nullable=False),
    sa.Column('creation_time', sa.BigInteger(), nullable=False),
    sa.Column('first_event_timestamp', sa.BigInteger(), nullable=True),
    sa.Column('last_event_timestamp', sa.BigInteger(), nullable=True),
    sa.Column('last_ingestion_time', sa.BigInteger(), nullable=True),
    sa.Column('stored_bytes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['group_name'], ['monitoring_log_groups.name'], 
                            name=op.f('fk_monitoring_log_streams_group_name_monitoring_log_groups'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_log_streams')),
    sa.UniqueConstraint('group_name', 'name', name='uq_monitoring_log_streams_group_name')
    )
    with op.batch_alter_table('monitoring_log_streams', schema=None) as batch_op:
        batch_op.create_index('ix_monitoring_log_streams_group_last_event', ['group_name', 'last_event_timestamp'],
                                 unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('monitoring_log_streams', schema=None) as batch_op:
        batch_op.drop_index('ix_monitoring_log_streams_group_last_event')

    op.drop_table('monitoring_log_streams')
    op.drop_table('monitoring_metric_series')
    with op.batch_alter_table('monitoring_metric_points', schema=None) as batch_op:
        batch_op.drop_index('ix_monitoring_metric_points_series_ts')

    op.drop_table('monitoring_metric_points')
    op.drop_table('monitoring_log_groups')
    with op.batch_alter_table('monitoring_log_events', schema=None) as batch_op:
        batch_op.drop_index('ix_monitoring_log_events_stream_ts_seq')

    op.drop_table('monitoring_log_events')
