"""Query tables: workgroups and query executions (Athena).

A workgroup is its name, state and description plus its configuration and
tags as JSON documents (Athena's shapes: every read and write is of the whole
configuration). A query execution is one row whose ``state`` moves
``QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED``; ``seq`` orders
executions by submission (timestamps may tie), ``owner`` (``host:pid``) and
``heartbeat_at`` name the process running it so that one whose process died
can be recognised and closed as FAILED. ``client_request_token`` is unique, so
two concurrent starts with one token record one execution. The statistics,
the result columns and the error are JSON/plain columns read only whole.
Executions go with their workgroup (RecursiveDeleteOption).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class WorkGroupRow(Base):
    __tablename__ = "query_workgroups"

    name: Mapped[str] = mapped_column(BinaryString(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # ENABLED | DISABLED
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    configuration: Mapped[str] = mapped_column(Text)  # WorkGroupConfiguration as JSON
    tags: Mapped[str] = mapped_column(Text, default="[]")  # [{"key": …, "value": …}] as JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueryExecutionRow(Base):
    __tablename__ = "query_executions"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    query_execution_id: Mapped[str] = mapped_column(String(64), unique=True)
    workgroup: Mapped[str] = mapped_column(ForeignKey("query_workgroups.name", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    statement_type: Mapped[str] = mapped_column(String(16))  # DDL | DML | UTILITY
    substatement_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    database: Mapped[str | None] = mapped_column(String(255), nullable=True)
    catalog: Mapped[str] = mapped_column(String(256))
    output_location: Mapped[str] = mapped_column(Text)  # lake://bucket/prefix/<id>.csv
    principal: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    state_change_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data_scanned_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    statistics: Mapped[str] = mapped_column(Text, default="{}")  # the *InMillis figures as JSON
    result_columns: Mapped[str | None] = mapped_column(Text, nullable=True)  # ColumnInfo list as JSON
    result_rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # data rows in the CSV
    result_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # size of the CSV
    update_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # rows a CTAS/INSERT wrote
    client_request_token: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    request_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_query_executions_workgroup_seq", "workgroup", "seq"),
        Index("ix_query_executions_state", "state"),
    )
