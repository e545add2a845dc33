"""Batch load jobs and watermarks (DMS and Glue batch loads).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('ingest_jobs',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('connection_url', sa.Text(), nullable=True),
    sa.Column('bookmark', sa.Text(), nullable=True),
    sa.Column('bookmark_version', sa.Integer(), nullable=False),
    sa.Column('bookmark_run_id', sa.String(length=64), nullable=True),
    sa.Column('bookmark_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ingest_jobs'))
    )
    op.create_table('ingest_job_runs',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('job_name', _NAME, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('execution_seconds', sa.Float(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rows_read', sa.BigInteger(), nullable=False),
    sa.Column('rows_written', sa.BigInteger(), nullable=False),
    sa.Column('bytes_read', sa.BigInteger(), nullable=False),
    sa.Column('bytes_written', sa.BigInteger(), nullable=False),
    sa.Column('files_read', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.BigInteger(), nullable=True),
    sa.Column('bookmark_before', sa.Text(), nullable=True),
    sa.Column('bookmark_after', sa.Text(), nullable=True),
    sa.Column('commit', sa.Text(), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_name'], ['ingest_jobs.name'],
                            name=op.f('fk_ingest_job_runs_job_name_ingest_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ingest_job_runs')),
    sa.UniqueConstraint('run_id', name=op.f('uq_ingest_job_runs_run_id'))
    )
    with op.batch_alter_table('ingest_job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_job_runs_job_seq', ['job_name', 'seq'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('ingest_job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_job_runs_job_seq')
    op.drop_table('ingest_job_runs')
    op.drop_table('ingest_jobs')
