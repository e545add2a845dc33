"""Reading CSV, JSON lines and Parquet files, from lake paths or local ones, a batch at a time.

A lake path names an object or a prefix (every object under it, recursively,
in key order, leaving out empty objects and Hive's hidden ``_``/``.`` files);
it is listed and read through the lake's fsspec filesystem as the caller, so
each read is authorized and audited. A local path names a file or a folder
(read by the process that runs the load: the CLI or SDK of an embedded home).
``.gz`` files are gunzipped on the fly (Firehose writes them).

- CSV: pyarrow's streaming reader with every field read as text (the header
  line names the columns; without one, fields are the table's columns by
  position), empty fields and the crawler's null tokens (``NA``, ``null``, …)
  read as NULL, as the query engine reads CSV tables; :func:`conform` then
  casts each column to the table's type and says which row did not fit.
- JSON lines: one object per line, parsed here with the standard library
  rather than pyarrow's JSON reader, which infers types block by block and
  reports a type change without the line it is on.
- Parquet: row groups read in batches; a lake object is first copied to a
  local scratch file, because Parquet needs random access to its footer.

With a bookmark the reader skips files it loaded before (same path and ETag,
or size and modification time locally) and its bookmark afterwards adds the
files it read — Glue's job bookmarks for S3 sources.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crispml.core.errors import CrispmlError, NotFound
from crispml.core.hive import NULL_TOKENS
from crispml.services.ingest.conform import TargetSchema, column_arrays
from crispml.services.ingest.entities import FileSource
from crispml.services.ingest.errors import EntityNotFoundException, InvalidInputException
from crispml.services.ingest.sources.base import Piece, Progress

#: Field texts read as NULL in CSV files (as the query engine reads CSV tables).
CSV_NULLS = ["", *sorted(NULL_TOKENS)]
_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: str  # lake://bucket/key or an absolute local path
    size: int
    fingerprint: str  # the lake ETag, or size-mtime of a local file


def _hidden(name: str) -> bool:
    return name.rstrip("/").rsplit("/", 1)[-1].startswith(("_", "."))


class FileReader:
    """The rows of a job's files, a batch at a time."""

    def __init__(self, fs: Any, source: FileSource, target: TargetSchema, batch_rows: int,
                 bookmark: dict[str, Any] | None) -> None:
        self.fs = fs
        self.source = source
        self.target = target
        self.batch_rows = batch_rows
        self.loaded: dict[str, str] = dict((bookmark or {}).get("files", {}))
        self.read: dict[str, str] = {}

    # -- listing ---------------------------------------------------------------------------

    def files(self) -> list[SourceFile]:
        """Every file the paths name, in order, without those the bookmark says were loaded."""
        found: dict[str, SourceFile] = {}
        for path in self.source.paths:
            listed = self._lake_files(path) if path.startswith("lake://") else self._local_files(path)
            for file in listed:
                found.setdefault(file.path, file)
        return [f for f in found.values() if self.loaded.get(f.path) != f.fingerprint]

    def _lake_files(self, path: str) -> list[SourceFile]:
        stripped = path[len("lake://"):]
        try:
            entries = self.fs.find(stripped, detail=True)
        except (FileNotFoundError, NotFound) as exc:
            raise EntityNotFoundException(f"source path {path}: {getattr(exc, 'message', exc)}") from None
        files = []
        for name, entry in sorted(entries.items()):
            if entry.get("type") != "file" or not entry.get("size") or (name != stripped and _hidden(name)):
                continue
            files.append(SourceFile(f"lake://{name}", int(entry["size"]), str(entry.get("ETag") or entry["size"])))
        return files

    @staticmethod
    def _local_files(path: str) -> list[SourceFile]:
        names: list[str]
        if os.path.isfile(path):
            names = [path]
        elif os.path.isdir(path):
            names = []
            for root, dirs, entries in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _hidden(d))
                names += [os.path.join(root, f) for f in sorted(entries) if not _hidden(f)]
        else:
            raise InvalidInputException(f"source path {path} is no local file or folder; give a path that exists "
                                        "(or a lake path, s3://bucket/prefix/)")
        files: list[SourceFile] = []
        for name in names:
            stat = os.stat(name)
            if stat.st_size:
                files.append(SourceFile(name, stat.st_size, f"{stat.st_size}-{stat.st_mtime_ns}"))
        return files

    # -- reading ---------------------------------------------------------------------------

    def pieces(self, progress: Progress) -> Iterator[Piece]:
        for file in self.files():
            progress.files_read += 1
            progress.bytes_read += file.size
            origin = f"file {file.path}"
            first = 1
            for data in self._read(file, origin):
                yield Piece(data, origin, first)
                first += data.num_rows
            self.read[file.path] = file.fingerprint

    def columns(self) -> list[tuple[str, str]]:
        """The columns of the first file with Glue (Hive) types, for a table the job creates: a Parquet
        file's schema; the types Arrow infers from the first block of a CSV file (named ``col0``,
        ``col1``, … as Glue names them when the file has no header) or from the first batch of a JSON
        lines file."""
        from crispml.services.ingest.create import arrow_hive_type

        files = self.files()
        if not files:
            raise InvalidInputException(
                f"the source paths ({', '.join(self.source.paths)}) hold no file to load, so the job has no schema "
                "to create its target table from; add files, or create the table first")
        file, fmt = files[0], self.source.format
        origin = f"file {file.path}"
        try:
            if fmt == "parquet":
                with tempfile.TemporaryDirectory(prefix="crispml-ingest-") as scratch:
                    local = file.path
                    if file.path.startswith("lake://"):
                        local = os.path.join(scratch, "source.parquet")
                        self.fs.get_file(file.path[len("lake://"):], local)
                    schema = pq.read_schema(local)
            else:
                with ExitStack() as stack:
                    handle: IO[bytes] = stack.enter_context(self._open(file.path))
                    if file.path.endswith(".gz"):
                        handle = cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=handle, mode="rb")))
                    schema = self._csv_schema(handle, origin) if fmt == "csv" else self._json_schema(handle, origin)
        except CrispmlError:
            raise
        except (pa.ArrowInvalid, OSError, EOFError, UnicodeDecodeError, StopIteration) as exc:
            kind = {"csv": "CSV", "json": "JSON lines", "parquet": "Parquet"}[fmt]
            raise InvalidInputException(f"{origin} cannot be read as {kind}: {_first_line(exc)}") from None
        return [(f.name, arrow_hive_type(f.type, f.name)) for f in schema]

    def _csv_schema(self, handle: IO[bytes], origin: str) -> pa.Schema:
        options = self.source.format_options
        read = pacsv.ReadOptions(block_size=_BLOCK, autogenerate_column_names=not options.with_header)
        reader = pacsv.open_csv(
            handle, read_options=read,
            parse_options=pacsv.ParseOptions(delimiter=options.separator, quote_char=options.quote_char,
                                             escape_char=options.escaper or False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(null_values=CSV_NULLS, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False))
        schema = reader.schema
        if options.with_header:
            return pa.schema([f.with_name(f.name.strip()) for f in schema])
        return pa.schema([f.with_name(f"col{i}") for i, f in enumerate(schema)])

    def _json_schema(self, handle: IO[bytes], origin: str) -> pa.Schema:
        for data in self._json(handle, origin):
            return data.schema
        raise InvalidInputException(f"{origin} holds no JSON object to take the columns from")

    def bookmark_after(self) -> dict[str, Any]:
        return {"files": {**self.loaded, **self.read}}

    def _read(self, file: SourceFile, origin: str) -> Iterator[pa.Table]:
        fmt = self.source.format
        try:
            if fmt == "parquet":
                yield from self._parquet(file)
                return
            with ExitStack() as stack:
                handle: IO[bytes] = stack.enter_context(self._open(file.path))
                if file.path.endswith(".gz"):
                    handle = cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=handle, mode="rb")))
                yield from (self._csv(handle, origin) if fmt == "csv" else self._json(handle, origin))
        except CrispmlError:  # the lake refused or could not answer: say so as it did
            raise
        except (pa.ArrowInvalid, OSError, EOFError, UnicodeDecodeError) as exc:
            kind = {"csv": "CSV", "json": "JSON lines", "parquet": "Parquet"}[fmt]
            raise InvalidInputException(f"{origin} cannot be read as {kind}: {_first_line(exc)}") from None

    def _open(self, path: str) -> Any:
        if path.startswith("lake://"):
            return self.fs.open(path[len("lake://"):], "rb")
        return open(path, "rb")

    def _csv(self, handle: IO[bytes], origin: str) -> Iterator[pa.Table]:
        options = self.source.format_options
        if options.with_header:
            line = handle.readline()
            if not line:
                return
            header = next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")], delimiter=options.separator,
                                     quotechar=options.quote_char, escapechar=options.escaper))
            names = [h.strip() for h in header]
        else:
            names = self.target.data_columns
        lowered = [n.lower() for n in names]
        twice = next((n for i, n in enumerate(names) if n.lower() in lowered[:i]), None)
        if twice is not None:
            raise InvalidInputException(f"{origin} has column {twice!r} twice (names are not case-sensitive)")
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(column_names=names, block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=options.separator, quote_char=options.quote_char,
                                             escape_char=options.escaper or False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                 null_values=CSV_NULLS, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False),
        )
        for batch in reader:
            if batch.num_rows:
                yield pa.Table.from_batches([batch])

    def _json(self, handle: IO[bytes], origin: str) -> Iterator[pa.Table]:
        hints = {n: self.target.type_of(n) for n in self.target.arrow.names}
        rows: list[dict[str, Any]] = []
        first = 1
        for number, line in enumerate(io.TextIOWrapper(handle, encoding="utf-8"), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputException(f"{origin}, line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise InvalidInputException(
                    f"{origin}, line {number}: a JSON lines file holds one object per line, not a "
                    f"{type(value).__name__}")
            rows.append(value)
            if len(rows) >= self.batch_rows:
                yield _records(rows, hints, origin, first)
                first += len(rows)
                rows = []
        if rows:
            yield _records(rows, hints, origin, first)

    def _parquet(self, file: SourceFile) -> Iterator[pa.Table]:
        with tempfile.TemporaryDirectory(prefix="crispml-ingest-") as scratch:
            local = file.path
            if file.path.startswith("lake://"):
                local = os.path.join(scratch, "source.parquet")
                self.fs.get_file(file.path[len("lake://"):], local)
            parquet = pq.ParquetFile(local)
            for batch in parquet.iter_batches(batch_size=self.batch_rows):
                if batch.num_rows:
                    yield pa.Table.from_batches([batch])


def _records(rows: list[dict[str, Any]], hints: dict[str, pa.DataType], origin: str, first: int) -> pa.Table:
    """JSON objects as columns; keys match case-insensitively (as Hive's JSON SerDe reads them)."""
    spelled: dict[str, str] = {}
    lowered: list[dict[str, Any]] = []
    for number, row in enumerate(rows, first):
        values = {}
        for key, value in row.items():
            low = key.lower()
            if low in values:
                raise InvalidInputException(f"{origin}, row {number} has key {key!r} twice (names are not "
                                            "case-sensitive)")
            values[low] = value
            spelled.setdefault(low, key)
        lowered.append(values)
    return column_arrays({name: [row.get(low) for row in lowered] for low, name in spelled.items()}, hints,
                         origin, first)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
