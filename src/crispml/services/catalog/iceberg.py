"""Scan planning of managed (Iceberg) tables for the query engine: which files, at which snapshot.

::

    scan = catalog.plan_scan(ctx, "sales", "orders")                        # now
    scan = catalog.plan_scan(ctx, "sales", "orders", snapshot_id=123)       # FOR VERSION AS OF 123
    scan = catalog.plan_scan(ctx, "sales", "orders", as_of=datetime(...))   # FOR TIMESTAMP AS OF ...
    for f in scan.files:            # DataFileRef(uri="lake://bucket/key", size_bytes, record_count, partition)
        ...                         # read f.uri as a Parquet file through the lake, as the caller
    scan.arrow_schema               # the table's columns at that snapshot (pyarrow)
    if scan.has_deletes:            # merge-on-read delete files: reading the files alone would be wrong
        table = scan.to_arrow()     # pyiceberg's own read, applying them

(``CatalogService.plan_scan``, for the query engine.) Everything happens as
``ctx``'s principal: ``catalog:GetTable`` authorizes reading the table (and is
audited), then the table's metadata, manifest lists and manifests are read
from the lake with ``lake:GetObject``. No metadata DB access is needed: the Glue
table's ``metadata_location`` moves in the same transaction as each commit.

Schemas: with ``snapshot_id`` or ``as_of`` the schema is the one the snapshot
was written with (as Athena's time travel shows it); without them it is the
table's current schema, so columns added since the last commit are there
(null in every file). Files are Parquet and may predate schema changes: a
column a file lacks reads as null, a widened column reads as the wider type;
match columns by name. A table with no snapshot yet has no files.

Snapshot choice follows Iceberg (and Athena): ``as_of`` picks the snapshot that
was current at that instant (the last one committed at or before it); a naive
datetime is taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.catalog.noop import NoopCatalog
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.manifest import DataFile
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import DataScan
from pyiceberg.table import Table as IcebergTable

from crispml.core.context import CallContext
from crispml.services.catalog.errors import EntityNotFoundException, InvalidInputException
from crispml.services.catalog.iceberg_catalog import CATALOG_NAME, LakeFileIO
from crispml.services.catalog.specs import TableRequest

if TYPE_CHECKING:
    from crispml.services.catalog.service import CatalogService
    from crispml.services.lake.service import LakeFileSystem


@dataclass(frozen=True)
class DataFileRef:
    """One Parquet data file of a scan."""

    uri: str  # lake://bucket/key
    size_bytes: int
    record_count: int
    #: partition values as Hive folder names write them: {"day": "2024-01-01"} (None: null)
    partition: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class IcebergScan:
    """The files and schema of a managed table at one snapshot."""

    database: str
    table: str
    snapshot_id: int | None  # None: the table has no snapshot yet
    arrow_schema: pa.Schema
    files: list[DataFileRef]
    has_deletes: bool
    _scan: DataScan | None = field(default=None, repr=False, compare=False)

    def to_arrow(self) -> pa.Table:
        """The rows, read by pyiceberg (delete files applied): the fallback when ``has_deletes``."""
        if self._scan is None or self.snapshot_id is None:
            return self.arrow_schema.empty_table()
        return self._scan.to_arrow()


def plan_scan(catalog: CatalogService, fs: LakeFileSystem, ctx: CallContext, database: str, table: str, *,
              snapshot_id: int | None = None, as_of: datetime | None = None) -> IcebergScan:
    """The data files of managed table ``database.table`` now, at ``snapshot_id``, or as of ``as_of``.

    Authorized as ``ctx``'s caller (``catalog:GetTable``, then ``lake:GetObject`` on the metadata, through
    ``fs``). Raises
    EntityNotFoundException for an unknown table or snapshot, or a time before the table's first
    snapshot; InvalidInputException for an external table or both ``snapshot_id`` and ``as_of``.
    """
    if snapshot_id is not None and as_of is not None:
        raise InvalidInputException("give a snapshot id or a time to read the table as of, not both")
    found = catalog.get_table(ctx, TableRequest(database_name=database, name=table)).table
    name = f"{found.database_name}.{found.name}"
    location = found.parameters.get("metadata_location")
    if not found.is_iceberg or not location:
        raise InvalidInputException(
            f"table {name} is an external table over files, not a managed (Iceberg) table: "
            "it has no snapshots to scan"
        )
    try:
        return _plan(fs, found.database_name, found.name, location, snapshot_id, as_of)
    except FileNotFoundError as exc:
        raise EntityNotFoundException(
            f"table {name}: a metadata file of the table is missing from the lake ({exc})"
        ) from exc


def _plan(fs: LakeFileSystem, database: str, table: str, location: str, snapshot_id: int | None,
          as_of: datetime | None) -> IcebergScan:
    name = f"{database}.{table}"
    io = LakeFileIO(fs)
    iceberg = IcebergTable(identifier=(database, table),
                           metadata=FromInputFile.table_metadata(io.new_input(location)),
                           metadata_location=location, io=io, catalog=NoopCatalog(CATALOG_NAME))
    chosen = _snapshot(iceberg, name, snapshot_id, as_of)
    if chosen is None:  # now: the current snapshot's files, the current schema
        scan = iceberg.scan()
        schema = iceberg.schema()
        current = iceberg.current_snapshot()
        chosen_id = current.snapshot_id if current is not None else None
    else:
        scan = iceberg.scan(snapshot_id=chosen.snapshot_id)
        schema = scan.projection()
        chosen_id = chosen.snapshot_id
    tasks = list(scan.plan_files())
    files = [
        DataFileRef(uri=task.file.file_path, size_bytes=task.file.file_size_in_bytes,
                    record_count=task.file.record_count, partition=_partition(iceberg, task.file))
        for task in tasks
    ]
    return IcebergScan(database=database, table=table, snapshot_id=chosen_id,
                       arrow_schema=schema_to_pyarrow(schema, include_field_ids=False), files=files,
                       has_deletes=any(task.delete_files for task in tasks), _scan=scan)


def _partition(table: IcebergTable, data_file: DataFile) -> dict[str, str | None]:
    """A data file's partition values as Hive writes them in folder names (``{"day": "2024-01-01"}``)."""
    spec = table.specs().get(data_file.spec_id)
    if spec is None:
        return {}
    schema = table.schema()
    values: dict[str, str | None] = {}
    for i, spec_field in enumerate(spec.fields):
        value = data_file.partition[i]
        source = schema.find_field(spec_field.source_id).field_type
        values[spec_field.name] = None if value is None else spec_field.transform.to_human_string(source, value)
    return values


def _snapshot(table: IcebergTable, name: str, snapshot_id: int | None, as_of: datetime | None) -> Any:
    """The snapshot asked for (None: the current one)."""
    if snapshot_id is not None:
        chosen = table.snapshot_by_id(snapshot_id)
        if chosen is None:
            known = ", ".join(str(s.snapshot_id) for s in reversed(table.snapshots()[-5:])) or "none yet"
            raise EntityNotFoundException(
                f"Iceberg snapshot ID does not exist: {snapshot_id} (table {name}; newest snapshots: {known}; "
                "list them with 'crispml catalog get-table-snapshots')"
            )
        return chosen
    if as_of is not None:
        instant = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        chosen = table.snapshot_as_of_timestamp(int(instant.timestamp() * 1000))
        if chosen is None:
            first = table.history()[0].timestamp_ms if table.history() else None
            since = (f"; its first snapshot was committed at "
                     f"{datetime.fromtimestamp(first / 1000, tz=UTC).isoformat()}" if first is not None
                     else "; it has no snapshots yet")
            raise EntityNotFoundException(
                f"No table snapshot found before timestamp {instant.astimezone(UTC).isoformat()} "
                f"(table {name}{since})"
            )
        return chosen
    return None
