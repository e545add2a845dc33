"""Evaluation jobs (model quality).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=63).with_variant(sa.String(length=63, collation='C'), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('evaluation_jobs',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('seq', _ID, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('model_source', sa.String(length=255), nullable=False),
    sa.Column('problem_type', sa.String(length=32), nullable=False),
    sa.Column('request', sa.Text(), nullable=False),
    sa.Column('test_data', sa.Text(), nullable=True),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.Column('threshold', sa.Text(), nullable=True),
    sa.Column('feature_importance', sa.Text(), nullable=False),
    sa.Column('report_uri', sa.Text(), nullable=True),
    sa.Column('predictions_uri', sa.Text(), nullable=True),
    sa.Column('metrics_uri', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_evaluation_jobs')),
    sa.UniqueConstraint('seq', name=op.f('uq_evaluation_jobs_seq'))
    )
    op.create_index('ix_evaluation_jobs_model_source', 'evaluation_jobs', ['model_source'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_evaluation_jobs_model_source', table_name='evaluation_jobs')
    op.drop_table('evaluation_jobs')
