"""Ingest tables: load jobs (with their bookmark) and one row per job run.

A job is its definition as one JSON document (Glue's shape, the connection
URL without its password) plus the real connection URL in its own column,
which no answer ever includes. The job's bookmark — a watermark, or the files
already loaded — changes only in the transaction that ends a successful run,
so a run that fails or is killed leaves it as it was.

A run's ``state`` is Glue's ``JobRunState``; while it runs, ``owner`` names
the process running it (``host:pid``) and ``heartbeat_at`` when it last
reported, so a run whose process died is recognised and closed instead of
staying RUNNING. ``phase`` says how far it got (``READING`` rows, then
``COMMITTING`` them), ``commit`` what it was committing (the managed table,
or the keys of the files it was adding to an external table) and
``bookmark_after`` the bookmark it will leave, so a run that died while
committing is rolled forward (its Iceberg commit landed) or back (its files
are deleted). Runs are numbered by ``seq`` (the order they started) and go
with their job.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class JobRow(Base):
    __tablename__ = "ingest_jobs"

    name: Mapped[str] = mapped_column(BinaryString(255), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # the definition as JSON, password redacted
    connection_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # a database source's real URL
    bookmark: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    bookmark_version: Mapped[int] = mapped_column(Integer, default=0)
    bookmark_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bookmark_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class JobRunRow(Base):
    __tablename__ = "ingest_job_runs"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_name: Mapped[str] = mapped_column(ForeignKey("ingest_jobs.name", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # STARTING|RUNNING|STOPPING|STOPPED|SUCCEEDED|FAILED
    phase: Mapped[str] = mapped_column(String(16))  # READING|COMMITTING|DONE
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    execution_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    files_read: Mapped[int] = mapped_column(Integer, default=0)
    snapshot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bookmark_before: Mapped[str | None] = mapped_column(Text, nullable=True)
    bookmark_after: Mapped[str | None] = mapped_column(Text, nullable=True)
    commit: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: what COMMITTING was committing
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_ingest_job_runs_job_seq", "job_name", "seq"),)
