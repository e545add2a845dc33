"""Tuning: hyperparameter tuning jobs and their trials (the search's state).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB = sa.String(length=32).with_variant(sa.String(length=32, collation='C'), 'postgresql')
_NAME = sa.String(length=63).with_variant(sa.String(length=63, collation='C'), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('tuning_jobs',
    sa.Column('name', _JOB, nullable=False),
    sa.Column('seq', _ID, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('drivers', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_tuning_jobs')),
    sa.UniqueConstraint('seq', name=op.f('uq_tuning_jobs_seq'))
    )
    op.create_index('ix_tuning_jobs_status', 'tuning_jobs', ['status'], unique=False)
    op.create_table('tuning_trials',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('tuning_job', _JOB, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('objective', sa.Float(), nullable=True),
    sa.Column('steps', sa.Text(), nullable=False),
    sa.Column('early_stopped', sa.Boolean(), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_tuning_trials')),
    sa.UniqueConstraint('tuning_job', 'number', name='uq_tuning_trials_number')
    )
    op.create_index('ix_tuning_trials_job', 'tuning_trials', ['tuning_job'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_tuning_trials_job', table_name='tuning_trials')
    op.drop_table('tuning_trials')
    op.drop_index('ix_tuning_jobs_status', table_name='tuning_jobs')
    op.drop_table('tuning_jobs')
