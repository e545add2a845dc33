"""One run of a load job: read the source a batch at a time, fit each batch to the table, write, commit.

The run reads and writes as the caller who started it: the target table is
looked up, and the lake read and written, through the catalog's and the lake's
operations as that caller, so the caller needs the catalog and lake permissions a manual
load would need. Batches go to the target's writer (a local spool for a
managed table, local files for an external one) and nothing is visible in the
table until every row has been read and has fitted; then the rows are
committed in one step (``targets/``). Between batches the run reports
progress and learns whether a stop was asked for (``Hooks.checkpoint``);
before committing it records what it commits and the bookmark it will leave
(``Hooks.committing``), so a run that dies while committing can be rolled
forward or back by whoever finds it dead.

The target is prepared first (``create.py``): created from the source's
schema if it does not exist, and — on a full load — dropped and created again
or emptied as the job's ``TargetTablePrepMode`` says; a replacement or an
emptying takes effect with the commit, not before.

Deliberately not here: the run's state in the metadata DB (``runs.py``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.catalog.service import CatalogService, Table
from crispml.services.ingest import create
from crispml.services.ingest.conform import TargetSchema, conform, target_schema
from crispml.services.ingest.entities import Job
from crispml.services.ingest.errors import InvalidInputException
from crispml.services.ingest.jobs import check_target
from crispml.services.ingest.sources.base import Progress, Source, StopRequested
from crispml.services.ingest.sources.database import DatabaseReader
from crispml.services.ingest.sources.files import FileReader
from crispml.services.ingest.targets import external, managed
from crispml.services.lake.service import LakeService
from crispml.spine.operations import Runtime

#: Rows per batch read from JSON lines and Parquet files (CSV batches are 4 MiB blocks).
_FILE_BATCH_ROWS = 65_536


class Hooks(Protocol):
    def checkpoint(self, progress: Progress) -> bool:
        """Record progress and a heartbeat; True when the run should stop."""
        ...

    def committing(self, commit: dict[str, Any], bookmark_after: dict[str, Any] | None) -> None:
        """Record, before committing, what is committed and the bookmark the run will leave."""
        ...


@dataclass
class Outcome:
    rows_written: int = 0
    bytes_written: int = 0
    snapshot_id: int | None = None
    bookmark_after: dict[str, Any] | None = None


class Loader:
    """Runs one load as ``ctx``'s principal."""

    def __init__(self, runtime: Runtime, ctx: CallContext, run_id: str, job: Job, connection_url: str | None,
                 bookmark: dict[str, Any] | None, hooks: Hooks) -> None:
        self.ctx = ctx
        self.catalog = runtime.peer(CatalogService)
        self.lake = runtime.peer(LakeService)
        self.run_id = run_id
        self.job = job
        self.connection_url = connection_url
        self.bookmark = bookmark if job.job_bookmark_option != "job-bookmark-disable" else None
        self.hooks = hooks

    def run(self, progress: Progress) -> Outcome:
        target = self.job.target
        # a full load (no bookmark to start from) is when DMS prepares the table: drop and create, truncate
        prepared = create.prepare(self.catalog, self.ctx, target, self.bookmark is None, self._source_columns)
        table = prepared.table
        check_target(table, target.write_mode)
        schema = target_schema(table)
        source = self._source(schema)
        with tempfile.TemporaryDirectory(prefix="crispml-load-") as folder:
            if table.is_iceberg:
                spool = managed.SpoolWriter(schema, folder)
                try:
                    self._read(source, schema, spool, progress)
                finally:
                    spool.close()
                return self._commit(spool, source.bookmark_after(), prepared)
            files = external.FilesWriter(table, schema, folder)
            try:
                self._read(source, schema, files, progress)
            except BaseException:
                files.discard()
                raise
            return self._publish(table, schema, files, source.bookmark_after(), prepared)

    def _source_columns(self) -> list[tuple[str, str]]:
        """The source's columns and their Glue types (for a table the run creates)."""
        return self._source(TargetSchema(table=f"{self.job.target.database_name}.{self.job.target.table_name}",
                                         arrow=pa.schema([]), hive_types={})).columns()

    def _source(self, schema: TargetSchema) -> Source:
        given = self.job.source
        if given.database_source is not None:
            if self.connection_url is None:
                raise InvalidInputException(f"job {self.job.name} has no connection URL stored; update it")
            incremental = self.job.job_bookmark_option != "job-bookmark-disable"
            key = self.job.job_bookmark_keys[0] if incremental else None
            return DatabaseReader(self.connection_url, given.database_source, schema, key, self.bookmark)
        assert given.file_source is not None
        return FileReader(self.lake.filesystem(self.ctx), given.file_source, schema, _FILE_BATCH_ROWS, self.bookmark)

    def _read(self, source: Source, schema: TargetSchema, writer: Any, progress: Progress) -> None:
        for piece in source.pieces(progress):
            writer.write(conform(piece.data, schema, piece.origin, piece.first_row))
            progress.rows_read += piece.data.num_rows
            if self.hooks.checkpoint(progress):
                raise StopRequested()
        if self.hooks.checkpoint(progress):
            raise StopRequested()

    def _commit(self, spool: managed.SpoolWriter, bookmark_after: dict[str, Any] | None,
                prepared: create.Prepared) -> Outcome:
        target = self.job.target
        self.hooks.committing({"kind": "managed", "database": target.database_name, "table": target.table_name},
                              bookmark_after)
        catalog = self.catalog
        rows = spool.rows_table()
        if prepared.replace is not None:
            create.replace(catalog, self.lake, self.ctx, target, prepared.replace)
        mode = "OVERWRITE" if prepared.truncate else target.write_mode
        try:
            done = managed.commit(catalog, self.ctx, self.run_id, target.database_name, target.table_name,
                                  mode, rows)
        except CrispmlError:
            # an error after the commit landed (reading the answer, say) must not make the run look failed:
            # its rows are in the table, and the bookmark has to move with them
            found = managed.find_commit(catalog, self.ctx, self.run_id, target.database_name, target.table_name)
            if found is None:
                raise
            done = managed.Committed(snapshot_id=found[0], rows_written=rows.num_rows, bytes_written=found[1])
        return Outcome(rows_written=done.rows_written, bytes_written=done.bytes_written,
                       snapshot_id=done.snapshot_id, bookmark_after=bookmark_after)

    def _publish(self, table: Table, schema: TargetSchema, files: external.FilesWriter,
                 bookmark_after: dict[str, Any] | None, prepared: create.Prepared) -> Outcome:
        written = files.close()
        if prepared.replace is not None:
            table = create.replace(self.catalog, self.lake, self.ctx, self.job.target, prepared.replace)
        elif prepared.truncate:
            create.delete_files(self.lake, self.ctx, table)
        uploads = external.plan_uploads(self.catalog, self.ctx, table, schema, written, self.run_id)
        self.hooks.committing({"kind": "external", "keys": [[u.bucket, u.key] for u in uploads]}, bookmark_after)
        size = external.publish(self.catalog, self.lake, self.ctx, table, uploads) if uploads else 0
        return Outcome(rows_written=files.rows, bytes_written=size, bookmark_after=bookmark_after)

