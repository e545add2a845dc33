"""Query: prepared statements and named queries (Athena), and the parameters a query execution ran with.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORKGROUP = sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql')
_STATEMENT = sa.String(length=256).with_variant(sa.String(length=256, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('query_prepared_statements',
    sa.Column('workgroup', _WORKGROUP, nullable=False),
    sa.Column('statement_name', _STATEMENT, nullable=False),
    sa.Column('query_statement', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('last_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workgroup'], ['query_workgroups.name'],
                            name=op.f('fk_query_prepared_statements_workgroup_query_workgroups'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workgroup', 'statement_name', name=op.f('pk_query_prepared_statements'))
    )
    op.create_table('query_named_queries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('named_query_id', sa.String(length=64), nullable=False),
    sa.Column('workgroup', _WORKGROUP, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('database', sa.String(length=255), nullable=False),
    sa.Column('query_string', sa.Text(), nullable=False),
    sa.Column('client_request_token', sa.String(length=128), nullable=True),
    sa.Column('request_digest', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workgroup'], ['query_workgroups.name'],
                            name=op.f('fk_query_named_queries_workgroup_query_workgroups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_query_named_queries')),
    sa.UniqueConstraint('client_request_token', name=op.f('uq_query_named_queries_client_request_token')),
    sa.UniqueConstraint('named_query_id', name=op.f('uq_query_named_queries_named_query_id'))
    )
    with op.batch_alter_table('query_named_queries', schema=None) as batch_op:
        batch_op.create_index('ix_query_named_queries_workgroup_seq', ['workgroup', 'seq'], unique=False)
    with op.batch_alter_table('query_executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('execution_parameters', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('query_executions', schema=None) as batch_op:
        batch_op.drop_column('execution_parameters')
    with op.batch_alter_table('query_named_queries', schema=None) as batch_op:
        batch_op.drop_index('ix_query_named_queries_workgroup_seq')
    op.drop_table('query_named_queries')
    op.drop_table('query_prepared_statements')
