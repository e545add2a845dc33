"""Crawlers: custom classifiers, crawlers and their crawls (Glue crawlers).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('catalog_classifiers',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_catalog_classifiers'))
    )
    op.create_table('catalog_crawlers',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_catalog_crawlers'))
    )
    op.create_table('catalog_crawls',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('crawl_id', sa.String(length=64), nullable=False),
    sa.Column('crawler', _NAME, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('tables_created', sa.Integer(), nullable=False),
    sa.Column('tables_updated', sa.Integer(), nullable=False),
    sa.Column('tables_deleted', sa.Integer(), nullable=False),
    sa.Column('partitions_added', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['crawler'], ['catalog_crawlers.name'],
                            name=op.f('fk_catalog_crawls_crawler_catalog_crawlers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_catalog_crawls')),
    sa.UniqueConstraint('crawl_id', name=op.f('uq_catalog_crawls_crawl_id'))
    )
    with op.batch_alter_table('catalog_crawls', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_crawls_crawler_seq', ['crawler', 'seq'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('catalog_crawls', schema=None) as batch_op:
        batch_op.drop_index('ix_catalog_crawls_crawler_seq')
    op.drop_table('catalog_crawls')
    op.drop_table('catalog_crawlers')
    op.drop_table('catalog_classifiers')
