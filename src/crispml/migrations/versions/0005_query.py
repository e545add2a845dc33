"""Query executions and workgroups (Athena).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORKGROUP = sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('query_workgroups',
    sa.Column('name', _WORKGROUP, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('configuration', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_query_workgroups'))
    )
    op.create_table('query_executions',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('query_execution_id', sa.String(length=64), nullable=False),
    sa.Column('workgroup', _WORKGROUP, nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('statement_type', sa.String(length=16), nullable=False),
    sa.Column('substatement_type', sa.String(length=64), nullable=True),
    sa.Column('database', sa.String(length=255), nullable=True),
    sa.Column('catalog', sa.String(length=256), nullable=False),
    sa.Column('output_location', sa.Text(), nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_change_reason', sa.Text(), nullable=True),
    sa.Column('error_type', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('data_scanned_bytes', sa.BigInteger(), nullable=False),
    sa.Column('statistics', sa.Text(), nullable=False),
    sa.Column('result_columns', sa.Text(), nullable=True),
    sa.Column('result_rows', sa.BigInteger(), nullable=True),
    sa.Column('result_bytes', sa.BigInteger(), nullable=True),
    sa.Column('update_count', sa.BigInteger(), nullable=True),
    sa.Column('client_request_token', sa.String(length=128), nullable=True),
    sa.Column('request_digest', sa.String(length=64), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workgroup'], ['query_workgroups.name'],
                            name=op.f('fk_query_executions_workgroup_query_workgroups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_query_executions')),
    sa.UniqueConstraint('client_request_token', name=op.f('uq_query_executions_client_request_token')),
    sa.UniqueConstraint('query_execution_id', name=op.f('uq_query_executions_query_execution_id'))
    )
    with op.batch_alter_table('query_executions', schema=None) as batch_op:
        batch_op.create_index('ix_query_executions_state', ['state'], unique=False)
        batch_op.create_index('ix_query_executions_workgroup_seq', ['workgroup', 'seq'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('query_executions', schema=None) as batch_op:
        batch_op.drop_index('ix_query_executions_workgroup_seq')
        batch_op.drop_index('ix_query_executions_state')
    op.drop_table('query_executions')
    op.drop_table('query_workgroups')
