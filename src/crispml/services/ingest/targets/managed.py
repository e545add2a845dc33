"""Loading a managed (Iceberg) table: rows spooled to local disk, then one commit through the catalog.

Conformed batches are appended to an Arrow IPC file in a scratch folder as
they are read, so the process holds one batch at a time however large the
source. When the source is exhausted the file is memory-mapped — its
columns are pages of the file, not copies in memory — and handed to the
catalog's ``AppendTableData`` or ``OverwriteTableData`` as the caller, which
writes the Parquet data files and commits one Iceberg snapshot. That commit
is the run's only visible effect: a run that fails or is killed before it
leaves the table at its previous snapshot (data files it wrote stay in the
lake, referenced by nothing).

The commit is made with the run id as its request id, which the catalog
records in the snapshot's summary (``crispml.request-id``); :func:`find_commit`
looks for it, so a run whose process died after its commit but before the
run was closed is recognised as committed (and its bookmark kept) rather
than loaded twice by the next run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.ipc as ipc

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.catalog.service import (
    REQUEST_TAG,
    AppendTableDataRequest,
    CatalogService,
    GetTableSnapshotsRequest,
    OverwriteTableDataRequest,
)
from crispml.services.ingest.conform import TargetSchema


@dataclass
class Committed:
    snapshot_id: int | None
    rows_written: int
    bytes_written: int


class SpoolWriter:
    """Conformed batches in an Arrow IPC file, read back memory-mapped for the one commit."""

    def __init__(self, target: TargetSchema, folder: str) -> None:
        self.path = os.path.join(folder, "rows.arrow")
        self.target = target
        self.rows = 0
        self._sink = pa.OSFile(self.path, "wb")
        self._writer = ipc.new_file(self._sink, target.arrow)

    def write(self, data: pa.Table) -> None:
        self._writer.write_table(data)
        self.rows += data.num_rows

    def rows_table(self) -> pa.Table:
        """Every spooled row, as columns over the memory-mapped file."""
        self.close()
        return ipc.open_file(pa.memory_map(self.path, "r")).read_all()

    def close(self) -> None:
        if not self._sink.closed:
            self._writer.close()
            self._sink.close()


def commit(catalog: CatalogService, ctx: CallContext, run_id: str, database: str, table: str,
           mode: str, rows: pa.Table) -> Committed:
    """Append (or overwrite with) ``rows`` in one commit tagged with the run id; nothing when there is nothing
    to append."""
    if rows.num_rows == 0 and mode == "APPEND":
        return Committed(snapshot_id=None, rows_written=0, bytes_written=0)
    tagged = CallContext(principal=ctx.principal, request_id=run_id, source=ctx.source)
    if mode == "OVERWRITE":
        response = catalog.overwrite_table_data(tagged, OverwriteTableDataRequest(
            database_name=database, table_name=table, body=rows))
    else:
        response = catalog.append_table_data(tagged, AppendTableDataRequest(
            database_name=database, table_name=table, body=rows))
    try:
        found = find_commit(catalog, ctx, run_id, database, table)
    except CrispmlError:  # the commit is made; its size is only for the record
        found = None
    written = int(found[1]) if found else 0
    return Committed(snapshot_id=response.snapshot_id, rows_written=int(response.added_records),
                     bytes_written=written)


def find_commit(catalog: CatalogService, ctx: CallContext, run_id: str, database: str,
                table: str) -> tuple[int, int] | None:
    """The snapshot the run committed and the bytes its data files hold, or None."""
    token: str | None = None
    while True:
        page = catalog.get_table_snapshots(ctx, GetTableSnapshotsRequest(
            database_name=database, table_name=table, next_token=token, max_results=100))
        ours = [s for s in page.snapshots if s.summary.get(REQUEST_TAG) == run_id]
        if ours:
            return ours[0].snapshot_id, sum(int(s.summary.get("added-files-size", 0)) for s in ours)
        if page.next_token is None:
            return None
        token = page.next_token
