"""Delivery streams and their durable buffers (Firehose).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('firehose_delivery_streams',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('stream_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stream_type', sa.String(length=32), nullable=False),
    sa.Column('source_stream', sa.String(length=128), nullable=True),
    sa.Column('configuration', sa.Text(), nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('buffered_records', sa.BigInteger(), nullable=False),
    sa.Column('buffered_bytes', sa.BigInteger(), nullable=False),
    sa.Column('oldest_arrival_ms', sa.BigInteger(), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('owner_expires_ms', sa.BigInteger(), nullable=True),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_firehose_delivery_streams')),
    sa.UniqueConstraint('stream_id', name=op.f('uq_firehose_delivery_streams_stream_id'))
    )
    # AUTOINCREMENT on SQLite: ids are never reused, so they make RecordIds.
    op.create_table('firehose_records',
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_stream', _NAME, nullable=False),
    sa.Column('arrival_ms', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_stream'], ['firehose_delivery_streams.name'], name=op.f('fk_firehose_records_delivery_stream_firehose_delivery_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('record_id', name=op.f('pk_firehose_records')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_firehose_records_stream', 'firehose_records', ['delivery_stream', 'record_id'], unique=False)
    op.create_table('firehose_source_positions',
    sa.Column('delivery_stream', _NAME, nullable=False),
    sa.Column('shard_id', sa.String(length=32), nullable=False),
    sa.Column('sequence_number', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['delivery_stream'], ['firehose_delivery_streams.name'], name=op.f('fk_firehose_source_positions_delivery_stream_firehose_delivery_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_stream', 'shard_id', name=op.f('pk_firehose_source_positions'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('firehose_source_positions')
    op.drop_index('ix_firehose_records_stream', table_name='firehose_records')
    op.drop_table('firehose_records')
    op.drop_table('firehose_delivery_streams')
