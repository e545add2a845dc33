"""Training jobs and warm workers (SageMaker training).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=63).with_variant(sa.String(length=63, collation='C'), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('training_jobs',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('seq', _ID, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('secondary_status', sa.String(length=32), nullable=False),
    sa.Column('transitions', sa.Text(), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('lineage', sa.Text(), nullable=False),
    sa.Column('model_artifacts', sa.Text(), nullable=True),
    sa.Column('final_metrics', sa.Text(), nullable=False),
    sa.Column('cross_validation_results', sa.Text(), nullable=True),
    sa.Column('warm_pool_status', sa.Text(), nullable=True),
    sa.Column('pool_key', sa.String(length=255), nullable=False),
    sa.Column('log_stream', sa.String(length=512), nullable=True),
    sa.Column('peak_memory_mb', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_training_jobs')),
    sa.UniqueConstraint('seq', name=op.f('uq_training_jobs_seq'))
    )
    op.create_index('ix_training_jobs_status', 'training_jobs', ['status'], unique=False)
    op.create_table('training_warm_workers',
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.Column('pool_key', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('last_job', sa.String(length=63), nullable=True),
    sa.Column('claimed_by', sa.String(length=63), nullable=True),
    sa.Column('available_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_training_warm_workers'))
    )
    op.create_index('ix_training_warm_workers_pool', 'training_warm_workers', ['pool_key', 'status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_training_warm_workers_pool', table_name='training_warm_workers')
    op.drop_table('training_warm_workers')
    op.drop_index('ix_training_jobs_status', table_name='training_jobs')
    op.drop_table('training_jobs')
