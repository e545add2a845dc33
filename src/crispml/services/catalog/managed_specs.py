"""Requests and responses of the data operations on managed (Iceberg) tables.

Glue has no API for a table's rows: Athena writes Iceberg tables with SQL
(``INSERT INTO``, ``DELETE``, ``MERGE``) and shows snapshots through the
``$snapshots`` metadata table. These operations are crispml's additions,
shaped like Glue's own (``DatabaseName``/``TableName``, ``NextToken``/
``MaxResults``): ``AppendTableData``, ``OverwriteTableData``,
``DeleteTableData`` and ``GetTableSnapshots``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from crispml.services.catalog.entities import TableSnapshot
from crispml.services.catalog.specs import DatabaseName, NextToken, TableName
from crispml.spine.models import Request, Response


def check_body(value: Any) -> Any:
    """A data operation's Body (pyarrow or pandas, checked where pyarrow is imported: on first use)."""
    from crispml.services.catalog import iceberg_data

    return iceberg_data.check_body(value)

_STREAM: Any = {"stream": True}

TableBody = Annotated[Any, AfterValidator(check_body), Field(
    description="The rows: a Parquet file on the CLI; a pyarrow Table or RecordBatchReader, a pandas "
                "DataFrame or a Parquet file path in Python.",
    json_schema_extra=_STREAM)]


OptionalBody = Annotated[Any, AfterValidator(lambda v: None if v is None else check_body(v)), Field(
    description="The rows to add (none: only remove files): a Parquet file on the CLI; a pyarrow Table or "
                "RecordBatchReader, a pandas DataFrame or a Parquet file path in Python.",
    json_schema_extra=_STREAM)]


class AppendTableDataRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    body: TableBody


class OverwriteTableDataRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    body: TableBody
    row_filter: str | None = Field(
        None, description="Replace only the rows matching this SQL condition (default: all rows), "
                          "e.g. \"day = '2024-01-01'\".")


class DeleteTableDataRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    row_filter: str = Field(description="Delete the rows matching this SQL condition, e.g. \"amount < 0\".")


class TableDataResponse(Response):
    """What a data operation committed: the table's snapshot after it, and how many rows moved."""

    snapshot_id: int | None = Field(
        None, description="The table's current snapshot after the operation (None: still empty).")
    added_records: int = 0
    deleted_records: int = 0
    total_records: int = 0


class GetTableSnapshotsRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=100, description="Snapshots per page (1-100).")


class GetTableSnapshotsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "snapshots": ["snapshot_id", "parent_snapshot_id", "committed_at", "operation", "is_current"]}
    snapshots: list[TableSnapshot]
    next_token: str | None = None


class RewriteTableDataRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    snapshot_id: int | None = Field(
        None, description="The snapshot the change was computed from: if the table has moved on since, nothing "
                          "is committed (default: commit on top of the current snapshot).")
    delete_files: list[str] = Field(
        default_factory=list, max_length=100_000,
        description="Data files of that snapshot to remove (lake://bucket/key), e.g. those holding changed rows.")
    body: OptionalBody = None
    operation: Literal["overwrite", "replace"] = Field(
        "overwrite", description="'overwrite' (rows change) or 'replace' (the same rows in new files: compaction).")


class ExpireTableSnapshotsRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    older_than: datetime | None = Field(
        None, description="Expire snapshots committed before this instant (default: now).")
    retain_last: int = Field(1, ge=1, le=10_000, description="Always keep this many of the newest snapshots.")


class ExpireTableSnapshotsResponse(Response):
    expired_snapshot_ids: list[int] = Field(default_factory=list)
    deleted_files: int = Field(0, description="Files no kept snapshot referenced, deleted from the lake.")
