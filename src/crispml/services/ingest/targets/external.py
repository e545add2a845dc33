"""Loading an external table: new files in its format under its location, and the partitions they fill.

Rows are written to local scratch files first — one file per partition
(Hive layout: partition keys are folder names, not columns in the files),
in the table's format (Parquet; JSON lines; CSV with the SerDe's delimiter
and as many header lines as ``skip.header.line.count`` says) — and only
when every row has been read and has fitted the table are they published:
each file is put into the lake as the caller under the table's (or its
partition's) location, named ``<run id>-<n>.<ext>``, then the partitions
the table lacks are registered (``BatchCreatePartition``).

An object store has no transaction spanning several objects, so publishing
is not atomic on its own. What makes a load all-or-nothing is that the keys
are chosen (and recorded in the run) before the first upload: a run that
fails while publishing deletes the files it had put, and a run whose process
died while publishing has them deleted when the run is closed as FAILED.
Readers that list the location in the meantime may see some of the files;
no reader sees them after the run ended FAILED.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from base64 import b64encode
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.hive import partition_path
from crispml.services.catalog.service import (
    BatchCreatePartitionRequest,
    CatalogService,
    GetPartitionsRequest,
    PartitionInput,
    Table,
)
from crispml.services.ingest.conform import TargetSchema
from crispml.services.ingest.errors import InvalidInputException
from crispml.services.lake.service import DeleteObjectRequest, LakeService, PutObjectRequest

#: Rows per data file before a new one is started.
MAX_FILE_ROWS = 1_000_000
#: Hive's name for a partition whose key is NULL.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_EXTENSIONS = {"parquet": ".parquet", "json": ".json", "csv": ".csv"}


@dataclass
class PartFile:
    """One local data file: the partition values it belongs to and how many rows it holds."""

    values: tuple[str, ...]
    path: str
    rows: int = 0
    writer: Any = None
    handle: IO[bytes] | None = None


@dataclass
class Upload:
    """Where a local file goes in the lake."""

    local: str
    bucket: str
    key: str
    values: tuple[str, ...]
    size: int = 0


@dataclass
class FilesWriter:
    """Conformed batches written into local files in the table's format, one (or more) per partition."""

    table: Table
    target: TargetSchema
    folder: str
    fmt: str = ""
    open_files: dict[tuple[str, ...], PartFile] = field(default_factory=dict)
    done: list[PartFile] = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        self.fmt = self.table.format
        if self.fmt not in _EXTENSIONS:
            raise InvalidInputException(
                f"table {self.target.table} has no file format a load can write (classification "
                f"{self.fmt or 'missing'}); set its Parameters classification to csv, json or parquet")
        keys = set(self.target.partition_keys)
        self.schema = pa.schema([f for f in self.target.arrow if f.name not in keys])
        self.csv = csv_options(self.table)

    def write(self, data: pa.Table) -> None:
        keys = self.target.partition_keys
        columns = data.select(self.schema.names)
        if not keys:
            self._append((), columns)
        else:
            groups: dict[tuple[str, ...], list[int]] = {}
            for i, values in enumerate(zip(*[data.column(k).to_pylist() for k in keys], strict=True)):
                groups.setdefault(tuple(partition_value(v) for v in values), []).append(i)
            for values, rows in groups.items():
                self._append(values, columns.take(pa.array(rows, pa.int64())))
        self.rows += data.num_rows

    def close(self) -> list[PartFile]:
        """Finish every file; the files with rows, in the order they were started."""
        for part in list(self.open_files.values()):
            self._finish(part)
        self.open_files.clear()
        return [p for p in self.done if p.rows]

    def _append(self, values: tuple[str, ...], rows: pa.Table) -> None:
        part = self.open_files.get(values)
        if part is not None and part.rows >= MAX_FILE_ROWS:
            self._finish(part)
            part = None
        if part is None:
            number = len(self.done) + len(self.open_files)
            part = PartFile(values, os.path.join(self.folder, f"part-{number:05d}{_EXTENSIONS[self.fmt]}"))
            self._open(part)
            self.open_files[values] = part
        try:
            self._write(part.writer, rows)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InvalidInputException(
                f"table {self.target.table} is {self.fmt.upper()}, and its rows cannot be written so: "
                f"{str(exc).splitlines()[0]}") from None
        part.rows += rows.num_rows

    def _open(self, part: PartFile) -> None:
        if self.fmt == "parquet":
            part.writer = pq.ParquetWriter(part.path, self.schema)
            return
        part.handle = part.writer = open(part.path, "wb")  # noqa: SIM115  (closed by _finish or discard)
        if self.fmt == "csv":
            delimiter, header_lines = self.csv
            if header_lines:
                part.handle.write((delimiter.join(self.schema.names) + "\n" * header_lines).encode())
            part.writer = pacsv.CSVWriter(part.handle, self.schema, write_options=pacsv.WriteOptions(
                include_header=False, delimiter=delimiter, quoting_style="needed"))

    def _write(self, writer: Any, rows: pa.Table) -> None:
        if self.fmt == "json":
            handle: IO[bytes] = writer
            for row in rows.to_pylist():
                handle.write(json.dumps(row, default=_json_value, ensure_ascii=False).encode() + b"\n")
            return
        writer.write_table(rows) if self.fmt == "parquet" else writer.write(rows)

    def _finish(self, part: PartFile) -> None:
        part.writer.close()
        if part.handle is not None:
            part.handle.close()
        self.done.append(part)
        self.open_files.pop(part.values, None)

    def discard(self) -> None:
        """Close whatever is open (a run that failed); the scratch folder goes with the run."""
        for part in list(self.open_files.values()):
            with contextlib.suppress(Exception):  # closing after a failure: the failure is what matters
                part.writer.close()
                if part.handle is not None:
                    part.handle.close()
        self.open_files.clear()


def csv_options(table: Table) -> tuple[str, int]:
    """The delimiter and the header line count of a CSV table (SerDe parameters first, then the table's)."""
    sd = table.storage_descriptor
    serde = dict(sd.serde_info.parameters) if sd.serde_info is not None else {}
    merged = {**dict(table.parameters or {}), **dict(sd.parameters or {}), **serde}
    delimiter = merged.get("field.delim") or merged.get("separatorChar") or merged.get("delimiter") or ","
    header = merged.get("skip.header.line.count", "0")
    return ("\t" if delimiter in ("\\t", "\t") else delimiter), int(header) if header.isdigit() else 0


def partition_value(value: Any) -> str:
    """A partition value as Hive writes it in a folder name."""
    if value is None:
        return NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} values cannot be written as JSON")


# -- publishing ------------------------------------------------------------------------------------


def plan_uploads(catalog: CatalogService, ctx: CallContext, table: Table, target: TargetSchema,
                 files: list[PartFile], run_id: str) -> list[Upload]:
    """Where each file goes: an existing partition's location, else the Hive folder under the table's."""
    location = table.storage_descriptor.location or ""
    existing: dict[tuple[str, ...], str] = {}
    if target.partition_keys:
        existing = _partition_locations(catalog, ctx, table)
    uploads = []
    for number, part in enumerate(files):
        folder = existing.get(part.values) or (
            location + (partition_path(target.partition_keys, list(part.values)) if part.values else ""))
        bucket, _, prefix = folder.split("://", 1)[-1].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key = f"{prefix}{run_id}-{number:05d}{os.path.splitext(part.path)[1]}"
        uploads.append(Upload(part.path, bucket, key, part.values, os.path.getsize(part.path)))
    return uploads


def _partition_locations(catalog: CatalogService, ctx: CallContext, table: Table) -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    token: str | None = None
    while True:
        page = catalog.get_partitions(ctx, GetPartitionsRequest(database_name=table.database_name,
                                                                table_name=table.name, next_token=token))
        for partition in page.partitions:
            found[tuple(partition.values)] = partition.storage_descriptor.location or ""
        token = page.next_token
        if token is None:
            return found


def publish(catalog: CatalogService, lake: LakeService, ctx: CallContext, table: Table,
            uploads: list[Upload]) -> int:
    """Put every file into the lake, then register the partitions the table lacks; the bytes put.

    On any failure the files already put are deleted again before the error is raised.
    """
    put: list[Upload] = []
    try:
        for upload in uploads:
            with open(upload.local, "rb") as body:
                lake.put_object(ctx, PutObjectRequest(bucket=upload.bucket, key=upload.key, body=body))
            put.append(upload)
        values = sorted({u.values for u in uploads if u.values})
        for start in range(0, len(values), 100):
            response = catalog.batch_create_partition(ctx, BatchCreatePartitionRequest(
                database_name=table.database_name, table_name=table.name,
                partition_input_list=[PartitionInput(values=list(v)) for v in values[start:start + 100]]))
            errors = [e for e in response.errors if e.error_detail.error_code != "AlreadyExistsException"]
            if errors:
                raise InvalidInputException(
                    f"partition {errors[0].partition_values} of {table.database_name}.{table.name} could not be "
                    f"registered: {errors[0].error_detail.error_message}")
    except BaseException:
        delete_uploads(lake, ctx, [(u.bucket, u.key) for u in put])
        raise
    return sum(u.size for u in uploads)


def delete_uploads(lake: LakeService, ctx: CallContext, keys: list[tuple[str, str]]) -> None:
    """Delete a run's files again (rolling it back); keys already gone are fine."""
    for bucket, key in keys:
        with contextlib.suppress(CrispmlError):  # cleaning up after a failure: the failure is what matters
            lake.delete_object(ctx, DeleteObjectRequest(bucket=bucket, key=key))
