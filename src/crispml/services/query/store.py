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

A prepared statement is keyed by its workgroup and name (Athena's are
per workgroup); a named query by its ``named_query_id``, with ``seq`` ordering
a workgroup's list and a unique ``client_request_token`` making two
concurrent creates with one token record one. Both go with their workgroup.
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
    execution_parameters: Mapped[str | None] = mapped_column(Text, nullable=True)  # ["'a'", "1"] as JSON
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_query_executions_workgroup_seq", "workgroup", "seq"),
        Index("ix_query_executions_state", "state"),
    )


class PreparedStatementRow(Base):
    __tablename__ = "query_prepared_statements"

    workgroup: Mapped[str] = mapped_column(ForeignKey("query_workgroups.name", ondelete="CASCADE"),
                                           primary_key=True)
    statement_name: Mapped[str] = mapped_column(BinaryString(256), primary_key=True)
    query_statement: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NamedQueryRow(Base):
    __tablename__ = "query_named_queries"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    named_query_id: Mapped[str] = mapped_column(String(64), unique=True)
    workgroup: Mapped[str] = mapped_column(ForeignKey("query_workgroups.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    database: Mapped[str] = mapped_column(String(255))
    query_string: Mapped[str] = mapped_column(Text)
    client_request_token: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    request_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_query_named_queries_workgroup_seq", "workgroup", "seq"),)
