"""Streams, shards, records and consumer leases (Kinesis Data Streams).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STREAM_NAME = sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('streams_streams',
    sa.Column('name', _STREAM_NAME, nullable=False),
    sa.Column('stream_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stream_mode', sa.String(length=16), nullable=False),
    sa.Column('retention_hours', sa.Integer(), nullable=False),
    sa.Column('record_store', sa.String(length=1024), nullable=False),
    sa.Column('next_shard_number', sa.Integer(), nullable=False),
    sa.Column('trimmed_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_streams_streams')),
    sa.UniqueConstraint('stream_id', name=op.f('uq_streams_streams_stream_id'))
    )
    op.create_table('streams_shards',
    sa.Column('shard_key', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('stream_name', _STREAM_NAME, nullable=False),
    sa.Column('shard_number', sa.Integer(), nullable=False),
    sa.Column('parent_number', sa.Integer(), nullable=True),
    sa.Column('adjacent_parent_number', sa.Integer(), nullable=True),
    sa.Column('hash_key_start', sa.String(length=40), nullable=False),
    sa.Column('hash_key_end', sa.String(length=40), nullable=False),
    sa.Column('starting_sequence_number', sa.String(length=64), nullable=False),
    sa.Column('ending_sequence_number', sa.String(length=64), nullable=True),
    sa.Column('last_counter', sa.BigInteger(), nullable=False),
    sa.Column('last_arrival_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['stream_name'], ['streams_streams.name'], name=op.f('fk_streams_shards_stream_name_streams_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shard_key', name=op.f('pk_streams_shards')),
    sa.UniqueConstraint('stream_name', 'shard_number', name='uq_streams_shards_stream_number')
    )
    # One b-tree keyed by (shard, counter) on SQLite: a shard reads as one range scan.
    op.create_table('streams_records',
    sa.Column('shard_key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('counter', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('arrival_ms', sa.BigInteger(), nullable=False),
    sa.Column('partition_key', sa.String(length=256), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('shard_key', 'counter', name=op.f('pk_streams_records')),
    sqlite_with_rowid=False
    )
    op.create_table('streams_leases',
    sa.Column('application_name', sa.String(length=255), nullable=False),
    sa.Column('stream_name', _STREAM_NAME, nullable=False),
    sa.Column('shard_id', sa.String(length=32), nullable=False),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_counter', sa.BigInteger(), nullable=False),
    sa.Column('expires_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('checkpoint', sa.String(length=64), nullable=False),
    sa.Column('parent_shard_ids', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['stream_name'], ['streams_streams.name'], name=op.f('fk_streams_leases_stream_name_streams_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('application_name', 'stream_name', 'shard_id', name=op.f('pk_streams_leases'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('streams_leases')
    op.drop_table('streams_records')
    op.drop_table('streams_shards')
    op.drop_table('streams_streams')
