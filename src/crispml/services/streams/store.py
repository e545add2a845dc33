"""Streams tables: streams, their shards, the embedded store's records, and consumer leases.

Stream and shard metadata always live here, whichever store holds the records.
A shard keeps its hash-key range as decimal strings (128-bit numbers fit no SQL
integer type), its parents, its sequence-number range, and for the embedded
store the last counter given out and the newest arrival time, which the put
path advances under the shard row's lock (SQLite's write lock, a row lock on
PostgreSQL): that is what makes counters strictly increasing and commits land in
counter order, so a reader never sees a later record before an earlier one.

``streams_records`` holds the embedded store's records, one row per record keyed
by (shard, counter) — on SQLite a WITHOUT ROWID table, so the key is the table's
only b-tree and a shard reads as one range scan. It has no foreign key to its
shard: checking one on each of 500 inserts per batch costs more than the insert,
and the service deletes a shard's records itself. ``streams_leases`` is the
consumer library's lease table (one row per application, stream and shard).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class StreamRow(Base):
    __tablename__ = "streams_streams"

    name: Mapped[str] = mapped_column(BinaryString(128), primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # CREATING | ACTIVE | UPDATING | DELETING
    stream_mode: Mapped[str] = mapped_column(String(16))  # PROVISIONED | ON_DEMAND
    retention_hours: Mapped[int] = mapped_column(Integer)
    record_store: Mapped[str] = mapped_column(String(1024))  # "embedded" or redis://host:port/db
    next_shard_number: Mapped[int] = mapped_column(Integer)
    trimmed_at_ms: Mapped[int] = mapped_column(BigInteger)  # when expired records were last removed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShardRow(Base):
    __tablename__ = "streams_shards"

    shard_key: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stream_name: Mapped[str] = mapped_column(ForeignKey("streams_streams.name", ondelete="CASCADE"))
    shard_number: Mapped[int] = mapped_column(Integer)
    parent_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    adjacent_parent_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hash_key_start: Mapped[str] = mapped_column(String(40))
    hash_key_end: Mapped[str] = mapped_column(String(40))
    starting_sequence_number: Mapped[str] = mapped_column(String(64))
    ending_sequence_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_counter: Mapped[int] = mapped_column(BigInteger)  # embedded store: the last counter given out
    last_arrival_ms: Mapped[int] = mapped_column(BigInteger)  # embedded store: the newest arrival time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("stream_name", "shard_number", name="uq_streams_shards_stream_number"),)


class RecordRow(Base):
    __tablename__ = "streams_records"

    shard_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    arrival_ms: Mapped[int] = mapped_column(BigInteger)
    partition_key: Mapped[str] = mapped_column(String(256))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = {"sqlite_with_rowid": False}


class LeaseRow(Base):
    __tablename__ = "streams_leases"

    application_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    stream_name: Mapped[str] = mapped_column(
        ForeignKey("streams_streams.name", ondelete="CASCADE"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_counter: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    checkpoint: Mapped[str] = mapped_column(String(64))  # a sequence number, TRIM_HORIZON, LATEST or SHARD_END
    parent_shard_ids: Mapped[str] = mapped_column(Text)  # JSON list


#: The tables for Core statements (the hot paths use Core, not the ORM).
STREAMS = cast(Table, StreamRow.__table__)
SHARDS = cast(Table, ShardRow.__table__)
RECORDS = cast(Table, RecordRow.__table__)
LEASES = cast(Table, LeaseRow.__table__)
