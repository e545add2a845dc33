"""Monitoring tables: CloudWatch Logs' groups, streams and events; CloudWatch metrics' series and points.

Times are integers of milliseconds since the epoch, as both APIs speak them
(PutLogEvents' ``timestamp``, GetLogEvents' ``startTime``), so a read's range
and a bucket of GetMetricStatistics are plain integer arithmetic in SQL.

A log stream keeps what DescribeLogStreams shows (first and last event time,
last ingestion, stored bytes), updated by PutLogEvents under the stream row's
lock. ``monitoring_log_events`` holds one row per event; ``seq`` orders events
ingested with the same timestamp, and (stream, timestamp, seq) is the one index
every read walks. Events and points carry no foreign key (checking one on each
row of a 10,000-event batch costs more than the insert, as in streams'
records); DeleteLogGroup deletes its streams' events itself.

A metric series is one (namespace, metric name, dimension set); the set is
kept as canonical JSON and found by its SHA-256 (``dimensions_digest``), since
30 dimensions of up to 1,024 characters are too long for an index key.
``monitoring_metric_points`` holds one row per published value.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString

BigId = BigInteger().with_variant(Integer, "sqlite")


class LogGroupRow(Base):
    __tablename__ = "monitoring_log_groups"

    name: Mapped[str] = mapped_column(BinaryString(512), primary_key=True)
    creation_time: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch
    tags: Mapped[str] = mapped_column(Text, default="{}")  # {key: value} as JSON


class LogStreamRow(Base):
    __tablename__ = "monitoring_log_streams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_name: Mapped[str] = mapped_column(ForeignKey("monitoring_log_groups.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(BinaryString(512))
    creation_time: Mapped[int] = mapped_column(BigInteger)
    first_event_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_event_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_ingestion_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        UniqueConstraint("group_name", "name", name="uq_monitoring_log_streams_group_name"),
        Index("ix_monitoring_log_streams_group_last_event", "group_name", "last_event_timestamp"),
    )


class LogEventRow(Base):
    __tablename__ = "monitoring_log_events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stream_id: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    ingestion_time: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_monitoring_log_events_stream_ts_seq", "stream_id", "timestamp", "seq"),)


class MetricSeriesRow(Base):
    __tablename__ = "monitoring_metric_series"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(BinaryString(255))
    metric_name: Mapped[str] = mapped_column(BinaryString(255))
    dimensions: Mapped[str] = mapped_column(Text)  # [{"Name": …, "Value": …}] sorted by name, as JSON
    dimensions_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("namespace", "metric_name", "dimensions_digest",
                         name="uq_monitoring_metric_series_namespace"),
    )


class MetricPointRow(Base):
    __tablename__ = "monitoring_metric_points"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_monitoring_metric_points_series_ts", "series_id", "timestamp"),)


GROUPS = cast(Table, LogGroupRow.__table__)
STREAMS = cast(Table, LogStreamRow.__table__)
EVENTS = cast(Table, LogEventRow.__table__)
SERIES = cast(Table, MetricSeriesRow.__table__)
POINTS = cast(Table, MetricPointRow.__table__)
