"""Rewriting and expiring a managed (Iceberg) table's files in one commit — what Athena's UPDATE, MERGE,
OPTIMIZE and VACUUM commit.

- ``RewriteTableData`` removes the data files it names and adds the Body's
  rows as new files, in **one** Iceberg commit (one ``overwrite`` snapshot, or
  marked ``crispml.data-change=false`` for a compaction that changes no row), and only if the table is
  still at the snapshot the change was computed from (``SnapshotId``, when given):
  otherwise nothing is committed and it fails with
  ConcurrentModificationException, so an UPDATE never overwrites rows another
  writer committed after it read them. This is Iceberg's own ``OverwriteFiles``
  / ``RewriteFiles`` action (copy-on-write at file level); the query engine
  decides which files hold changed rows and writes their new contents.
- ``ExpireTableSnapshots`` drops snapshots older than a time from the table's
  metadata (keeping the newest ``RetainLast`` and the current one) in one
  metadata commit, then deletes the data and manifest files that no kept
  snapshot references. A kill after the commit leaves some of those files in
  the lake, unreferenced; the next call finds and deletes them (it deletes
  every file under the table's ``data/`` and ``metadata/`` folders that no
  kept snapshot or metadata file references and that is older than the cutoff).

A write killed at any point before its pointer swap leaves the table at its
last commit (``iceberg_catalog.py``); the files it had written are referenced
by nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crispml.core.context import CallContext
from crispml.services.catalog.core import table_crn
from crispml.services.catalog.errors import ConcurrentModificationException, InvalidInputException
from crispml.services.catalog.managed import ManagedTables, total_records
from crispml.services.catalog.managed_specs import (
    ExpireTableSnapshotsRequest,
    ExpireTableSnapshotsResponse,
    RewriteTableDataRequest,
    TableDataResponse,
)
from crispml.services.lake.service import LakeService
from crispml.spine.operations import operation

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable


#: The snapshot summary property of a compaction (RewriteTableData with Operation 'replace'): no row changed.
DATA_CHANGE_TAG = "crispml.data-change"


def _name(request: RewriteTableDataRequest | ExpireTableSnapshotsRequest) -> str:
    return f"{request.database_name}.{request.table_name}"


class ManagedRewriteOps(ManagedTables):
    @operation("RewriteTableData", resource=lambda r: table_crn(r.database_name, r.table_name))
    def rewrite_table_data(self, ctx: CallContext, request: RewriteTableDataRequest) -> TableDataResponse:
        """Replace data files of a managed (Iceberg) table with the Body's rows, in one commit, if the table is
        still at SnapshotId."""
        from pyiceberg.io.pyarrow import _dataframe_to_data_files
        from pyiceberg.table.snapshots import Operation
        from pyiceberg.table.update.snapshot import _OverwriteFiles

        from crispml.services.catalog.iceberg_data import body_table, conform

        rows = body_table(request.body) if request.body is not None else None
        name = _name(request)
        counted: list[int] = []

        def rewrite(table: IcebergTable, tags: dict[str, str]) -> None:
            current = table.current_snapshot()
            at = current.snapshot_id if current is not None else None
            if request.snapshot_id is not None and at != request.snapshot_id:
                raise ConcurrentModificationException(
                    f"table {name} is at snapshot {at}, not {request.snapshot_id} from which this change was "
                    "computed: another writer committed meanwhile; repeat the statement")
            files = {task.file.file_path: task.file for task in table.scan().plan_files()}
            missing = sorted(set(request.delete_files) - set(files))
            if missing:
                raise InvalidInputException(
                    f"table {name} has no data file {missing[0]} in snapshot {at}; DeleteFiles names data files "
                    "of the current snapshot (lake://bucket/key)")
            data = conform(rows, table.schema(), name) if rows is not None and rows.num_rows else None
            if data is None and not request.delete_files:
                return  # nothing changes: no snapshot
            # pyiceberg cannot write Iceberg's ``replace`` operation ("not implemented"): a compaction is an
            # ``overwrite`` whose summary says no row changed
            kind = Operation.OVERWRITE if at is not None else Operation.APPEND
            if request.operation == "replace":
                tags = {**tags, DATA_CHANGE_TAG: "false"}
            with table.transaction() as transaction:
                producer = _OverwriteFiles(operation=kind, transaction=transaction, io=table.io,
                                           snapshot_properties=tags)
                for path in dict.fromkeys(request.delete_files):
                    producer.delete_data_file(files[path])
                    counted.append(files[path].record_count)
                if data is not None:
                    for data_file in _dataframe_to_data_files(transaction.table_metadata, data, table.io,
                                                              producer.commit_uuid):
                        producer.append_data_file(data_file)
                producer.commit()

        table, ours = self._commit(ctx, request.database_name, request.table_name, rewrite)
        current = table.current_snapshot()
        added = rows.num_rows if rows is not None else 0
        return TableDataResponse(snapshot_id=current.snapshot_id if current is not None else None,
                                 added_records=added if ours else 0,
                                 deleted_records=sum(counted) if ours else 0,
                                 total_records=total_records(table))

    @operation("ExpireTableSnapshots", resource=lambda r: table_crn(r.database_name, r.table_name))
    def expire_table_snapshots(self, ctx: CallContext,
                               request: ExpireTableSnapshotsRequest) -> ExpireTableSnapshotsResponse:
        """Drop a managed table's snapshots older than OlderThan (keeping the newest RetainLast) in one commit,
        then delete the files no kept snapshot references."""
        name = _name(request)
        cutoff = request.older_than or self.clock.now()
        cutoff = cutoff if cutoff.tzinfo is not None else cutoff.replace(tzinfo=UTC)
        expired: list[int] = []

        def expire(table: IcebergTable, tags: dict[str, str]) -> None:
            snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
            kept = {s.snapshot_id for s in snapshots[-request.retain_last:]}
            current = table.current_snapshot()
            if current is not None:
                kept.add(current.snapshot_id)
            limit = cutoff.timestamp() * 1000
            old = [s.snapshot_id for s in snapshots if s.timestamp_ms < limit and s.snapshot_id not in kept]
            if old:
                table.maintenance.expire_snapshots().by_ids(old).commit()
                expired.extend(old)

        table, _ = self._commit(ctx, request.database_name, request.table_name, expire)
        deleted = _delete_unreferenced(table, self.peer(LakeService).filesystem(ctx), cutoff, name)
        return ExpireTableSnapshotsResponse(expired_snapshot_ids=expired, deleted_files=deleted)


def _delete_unreferenced(table: IcebergTable, fs: object, cutoff: datetime, name: str) -> int:
    """Delete the files under the table's data/ and metadata/ folders that the current metadata does not
    reference and that were last modified before ``cutoff``; return how many."""
    from fsspec.spec import AbstractFileSystem

    assert isinstance(fs, AbstractFileSystem)
    io = table.io
    referenced: set[str] = {table.metadata_location}
    referenced.update(entry.metadata_file for entry in table.metadata.metadata_log)
    for snapshot in table.snapshots():
        referenced.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            referenced.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                referenced.add(entry.data_file.file_path)
    location = table.metadata.location.rstrip("/")
    deleted = 0
    for folder in (f"{location}/data", f"{location}/metadata"):
        try:
            found = fs.find(folder, detail=True)
        except FileNotFoundError:
            continue
        for path, info in found.items():
            uri = path if path.startswith("lake://") else f"lake://{path}"
            if uri in referenced:
                continue
            modified = _modified(info)
            if modified is not None and modified >= cutoff:
                continue  # a writer's file not committed yet
            try:
                fs.rm(uri)
            except FileNotFoundError:
                continue
            deleted += 1
    return deleted


def _modified(info: dict[str, object]) -> datetime | None:
    value = info.get("LastModified") or info.get("last_modified") or info.get("mtime")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None
