"""Firehose tables: delivery streams, their durable buffers, and stream-source positions.

``firehose_delivery_streams`` holds each delivery stream's configuration (the
validated destination, as JSON), the principal its deliveries act as, running
totals of its buffer (records, bytes, the oldest arrival) kept in the same
transactions that add and remove buffered records — so deciding whether a
buffer is due reads one row — and the claim of the process delivering it now.

``firehose_records`` is the durable buffer: a record is a row here before
PutRecord answers, and is deleted in the transaction that marks its delivery.
Ids never repeat (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so they
make RecordIds. ``firehose_source_positions`` keeps how far a delivery stream
has read each shard of its Kinesis source (the last sequence number taken into
the buffer, or ``SHARD_END``), written in the transaction that buffers the
records, so a restart reads on from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class DeliveryStreamRow(Base):
    __tablename__ = "firehose_delivery_streams"

    name: Mapped[str] = mapped_column(BinaryString(64), primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # CREATING | ACTIVE | DELETING
    stream_type: Mapped[str] = mapped_column(String(32))  # DirectPut | KinesisStreamAsSource
    source_stream: Mapped[str | None] = mapped_column(String(128), nullable=True)
    configuration: Mapped[str] = mapped_column(Text)  # JSON: the destination as validated
    principal: Mapped[str] = mapped_column(String(128))  # whom deliveries act as
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    buffered_records: Mapped[int] = mapped_column(BigInteger)
    buffered_bytes: Mapped[int] = mapped_column(BigInteger)
    oldest_arrival_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    owner_expires_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON FailureDescription of the last try


class BufferedRecordRow(Base):
    __tablename__ = "firehose_records"

    record_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_stream: Mapped[str] = mapped_column(
        ForeignKey("firehose_delivery_streams.name", ondelete="CASCADE"))
    arrival_ms: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON kinesisRecordMetadata (stream source)

    __table_args__ = (
        Index("ix_firehose_records_stream", "delivery_stream", "record_id"),
        {"sqlite_autoincrement": True},
    )


class SourcePositionRow(Base):
    __tablename__ = "firehose_source_positions"

    delivery_stream: Mapped[str] = mapped_column(
        ForeignKey("firehose_delivery_streams.name", ondelete="CASCADE"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sequence_number: Mapped[str] = mapped_column(String(64))  # the last one buffered, or SHARD_END


#: The tables for Core statements (the buffer's paths use Core, not the ORM).
DELIVERY_STREAMS = cast(Table, DeliveryStreamRow.__table__)
RECORDS = cast(Table, BufferedRecordRow.__table__)
POSITIONS = cast(Table, SourcePositionRow.__table__)
