"""Data operations on managed (Iceberg) tables — crispml's additions to Glue's API.

``AppendTableData`` adds rows; ``OverwriteTableData`` replaces the rows a
``RowFilter`` matches (all rows without one) with new ones; ``DeleteTableData``
deletes the rows a ``RowFilter`` matches; ``GetTableSnapshots`` lists the
snapshots these commits left, newest first. Each write is one atomic Iceberg
commit (pyiceberg's copy-on-write: files with deleted rows are rewritten), so a
reader sees the table before it or after it, never halfway; a write that fails
or is killed midway leaves the table at its last commit (files it had already
written stay in the lake, referenced by nothing). An append or an overwrite
adds exactly one snapshot (``iceberg_write.py``), so time travel never shows an
overwrite half done; a delete that rewrites files may add two in its one commit
(pyiceberg records the dropped files and the rewritten ones separately); the
response names the last.
Its counts are rows as the user sees them: ``AddedRecords`` the Body's rows,
``DeletedRecords`` the rows that are gone (not the rows of rewritten files,
which Iceberg's snapshot summaries count), ``TotalRecords`` the rows after.

Every file is read and written through the lake as the caller, so the caller
needs the lake permissions for the table's location as well as this action.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crispml.core.context import CallContext
from crispml.services.catalog.core import decode_token, encode_token, table_crn
from crispml.services.catalog.entities import TableSnapshot
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.managed import ManagedTables, _iceberg_errors, total_records
from crispml.services.catalog.managed_specs import (
    AppendTableDataRequest,
    DeleteTableDataRequest,
    GetTableSnapshotsRequest,
    GetTableSnapshotsResponse,
    OverwriteTableDataRequest,
    TableDataResponse,
)
from crispml.spine.operations import operation

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable
    from pyiceberg.table.snapshots import Snapshot


def snapshot_entity(snapshot: Snapshot, current: int | None) -> TableSnapshot:
    """A snapshot as GetTableSnapshots shows it."""
    summary = snapshot.summary
    return TableSnapshot(
        snapshot_id=snapshot.snapshot_id, parent_snapshot_id=snapshot.parent_snapshot_id,
        committed_at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=UTC),
        operation=summary.operation.value if summary is not None else "overwrite",
        summary=dict(summary.additional_properties) if summary is not None else {},
        is_current=snapshot.snapshot_id == current,
    )


def _counts(table: IcebergTable, ours: list[Snapshot], added: int) -> TableDataResponse:
    """Rows as the user sees them: ``added`` (the Body's), the rows now gone, the rows after.

    Iceberg's summaries count a copy-on-write rewrite as its whole file deleted and
    the kept rows added again; those kept rows are taken back out here.
    """
    def summed(key: str) -> int:
        return sum(int((s.summary.additional_properties if s.summary else {}).get(key, 0)) for s in ours)

    current = table.current_snapshot()
    return TableDataResponse(snapshot_id=current.snapshot_id if current is not None else None,
                             added_records=added,
                             deleted_records=summed("deleted-records") - (summed("added-records") - added),
                             total_records=total_records(table))


def _name(request: Any) -> str:
    return f"{request.database_name}.{request.table_name}"


class ManagedDataOps(ManagedTables):
    @operation("AppendTableData", resource=lambda r: table_crn(r.database_name, r.table_name))
    def append_table_data(self, ctx: CallContext, request: AppendTableDataRequest) -> TableDataResponse:
        """Append rows to a managed (Iceberg) table in one commit (a new snapshot)."""
        from crispml.services.catalog import iceberg_write
        from crispml.services.catalog.iceberg_data import body_table, conform

        rows = body_table(request.body)
        # the data files are written first, outside the table's commit lock: writers wait only for each
        # other's (short) commits, not for each other's files
        before = self._load_iceberg(self._lake_catalog(ctx), request.database_name, request.table_name)
        with _iceberg_errors(_name(request)):
            written = iceberg_write.data_files(before, conform(rows, before.schema(), _name(request)))

        def append(table: IcebergTable, tags: dict[str, str]) -> None:
            files = written
            if not iceberg_write.same_layout(before, table):  # its schema changed meanwhile: write them again
                files = iceberg_write.data_files(table, conform(rows, table.schema(), _name(request)))
            iceberg_write.fast_append(table, files, tags)

        table, ours = self._commit(ctx, request.database_name, request.table_name, append)
        return _counts(table, ours, rows.num_rows)

    @operation("OverwriteTableData", resource=lambda r: table_crn(r.database_name, r.table_name))
    def overwrite_table_data(self, ctx: CallContext, request: OverwriteTableDataRequest) -> TableDataResponse:
        """Replace the rows matching RowFilter (all rows without one) with the Body's rows, in one commit."""
        from crispml.services.catalog import iceberg_write
        from crispml.services.catalog.iceberg_data import body_table, conform, row_filter

        rows = body_table(request.body)

        def overwrite(table: IcebergTable, tags: dict[str, str]) -> None:
            data = conform(rows, table.schema(), _name(request))
            matches = None if request.row_filter is None else row_filter(request.row_filter, table.schema(),
                                                                           _name(request))
            iceberg_write.overwrite(table, data, matches, tags)

        table, ours = self._commit(ctx, request.database_name, request.table_name, overwrite)
        return _counts(table, ours, rows.num_rows)

    @operation("DeleteTableData", resource=lambda r: table_crn(r.database_name, r.table_name))
    def delete_table_data(self, ctx: CallContext, request: DeleteTableDataRequest) -> TableDataResponse:
        """Delete the rows matching RowFilter from a managed (Iceberg) table, in one commit."""
        from crispml.services.catalog.iceberg_data import row_filter

        def delete(table: IcebergTable, tags: dict[str, str]) -> None:
            table.delete(row_filter(request.row_filter, table.schema(), _name(request)), case_sensitive=False,
                         snapshot_properties=tags)

        table, ours = self._commit(ctx, request.database_name, request.table_name, delete)
        return _counts(table, ours, 0)

    @operation("GetTableSnapshots", resource=lambda r: table_crn(r.database_name, r.table_name), mutating=False)
    def get_table_snapshots(self, ctx: CallContext, request: GetTableSnapshotsRequest) -> GetTableSnapshotsResponse:
        """List the snapshots of a managed (Iceberg) table, newest first, a page at a time."""
        table = self._load_iceberg(self._lake_catalog(ctx), request.database_name, request.table_name)
        newest_first = list(reversed(table.snapshots()))
        start = 0
        after = decode_token(request.next_token)
        if after is not None:
            ids = [s.snapshot_id for s in newest_first]
            if after not in ids:
                raise InvalidInputException("NextToken names a snapshot the table no longer has; list from the start")
            start = ids.index(after) + 1
        page = newest_first[start:start + request.max_results]
        more = start + request.max_results < len(newest_first)
        current = table.metadata.current_snapshot_id
        return GetTableSnapshotsResponse(
            snapshots=[snapshot_entity(s, current) for s in page],
            next_token=encode_token(page[-1].snapshot_id) if more else None,
        )
