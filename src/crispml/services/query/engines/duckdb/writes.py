"""Statements that write: CTAS, INSERT INTO and DELETE FROM.

- ``CREATE TABLE [db.]t WITH (format=…, partitioned_by=ARRAY[…], external_location=…) AS SELECT``
  writes the rows with DuckDB's ``COPY`` (Parquet, JSON lines, or CSV for
  ``TEXTFILE``) into a scratch folder, uploads each file into the lake as the
  caller (``PutObject``), and registers the table (Hive types from DuckDB's)
  and its partitions in the catalog. As in Athena the location defaults to
  ``<output location>tables/<query id>/``, must be empty, partition columns
  are the last columns of the SELECT, and one query writes at most 100
  partitions. With ``table_type='ICEBERG'`` the table is created managed and
  the rows appended through the catalog.
- ``INSERT INTO`` an Iceberg table appends through the catalog
  (``AppendTableData``); into an external table it adds files in the table's
  format under its location (and partitions it lacks), as Athena does for Hive
  tables.
- ``DELETE FROM`` an Iceberg table counts the matching rows, then deletes
  them through the catalog (``DeleteTableData``); external tables have no
  row-level deletes (Athena's rule too).

Each returns one row, ``rows`` (bigint): the rows written or deleted.
Files go through a scratch folder because DuckDB writes only to local paths
or registered filesystems, and a partitioned ``COPY`` must finish before its
partitions are known.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
from sqlglot import exp

import duckdb
from crispml.core.errors import AlreadyExists, CrispmlError, InvalidArgument
from crispml.core.hive import check_location, partition_path
from crispml.services.catalog.service import (
    AppendTableDataRequest,
    BatchCreatePartitionRequest,
    CreateTableRequest,
    DeleteTableDataRequest,
    IcebergInput,
    OpenTableFormatInput,
    PartitionInput,
    TableInput,
    TableRequest,
)
from crispml.services.lake.service import DeleteObjectRequest, ListObjectsV2Request, PutObjectRequest
from crispml.services.query.engines.base import Caller, ColumnInfo, EngineResult, ExecutionPlan, QueryFailed
from crispml.services.query.engines.duckdb import claims, dml, readers
from crispml.services.query.engines.duckdb.access import LakeAccess
from crispml.services.query.engines.duckdb.errors import error_type
from crispml.services.query.engines.duckdb.resolve import (
    Column,
    TableRef,
    exists,
    lookup,
    names,
    require_database,
)
from crispml.services.query.engines.duckdb.scan import split_location
from crispml.services.query.engines.duckdb.types import athena_relation, duckdb_type, hive_type, storable

if TYPE_CHECKING:
    from crispml.services.query.engines.duckdb.engine import DuckDBQuery

#: Athena's limit of partitions one CTAS or INSERT writes.
MAX_PARTITIONS = 100
#: CTAS ``format`` → (classification, DuckDB COPY format, file extension).
FORMATS = {"PARQUET": ("parquet", "parquet", ".parquet"), "JSON": ("json", "json", ".json"),
           "TEXTFILE": ("csv", "csv", ".csv")}
_PROPERTIES = ("format", "partitioned_by", "external_location", "location", "table_type", "write_compression",
               "field_delimiter", "is_external")
_SERDE = {"parquet": ("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                      "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                      "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
          "json": ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hadoop.mapred.TextInputFormat",
                   "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
          "csv": ("org.apache.hadoop.hive.serde2.OpenCSVSerde", "org.apache.hadoop.mapred.TextInputFormat",
                  "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")}
_ROWS = [ColumnInfo(name="rows", type="bigint")]


@dataclass
class Written:
    """What a COPY into the scratch folder produced."""

    rows: int
    folder: str
    #: partition values ([] when unpartitioned) and the local files written for them
    parts: list[tuple[list[str], list[str]]] = field(default_factory=list)


@dataclass
class Write:
    """A prepared CTAS, INSERT or DELETE."""

    query: DuckDBQuery
    kind: str
    database: str
    name: str
    target: TableRef | None = None  # the existing table an INSERT/DELETE writes
    fmt: str = "parquet"
    partitioned_by: list[str] = field(default_factory=list)
    location: str | None = None
    iceberg: bool = False
    options: dict[str, str] = field(default_factory=dict)
    scratch: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    def source_tree(self) -> exp.Expr | None:
        """The query whose rows are written (None for DELETE and the statements of ``dml.py``, which read
        their rows from their own scan)."""
        if self.kind == "DELETE" or self.kind in dml.KINDS:
            return None
        source: exp.Expr = self.query.statement.tree.expression
        return source

    # -- running --------------------------------------------------------------------

    def run(self, con: duckdb.DuckDBPyConnection, access: LakeAccess, sql: str, plan: ExecutionPlan) -> EngineResult:
        self.scratch = access.scratch()  # the one folder the sealed database may write (seal.py)
        if self.kind == "CTAS":
            rows = self._ctas(con, sql)
        elif self.kind == "INSERT":
            rows = self._insert(con, sql)
        elif self.kind in dml.KINDS:
            assert self.target is not None
            rows = dml.RowChanges(self.query, self.kind, self.target).run(con, access)
        else:
            rows = self._delete(con)
        reader = pa.table({"rows": pa.array([rows], pa.int64())}).to_reader()
        return EngineResult(columns=list(_ROWS), batches=reader, plan=plan, written_table=self.qualified)

    def _caller(self) -> Caller:
        return self.query.caller

    def _ctas(self, con: duckdb.DuckDBPyConnection, sql: str) -> int:
        caller = self._caller()
        if exists(caller, self.database, self.name) and not _undo_unfinished(caller, self.database, self.name):
            raise QueryFailed(f"table {self.qualified} already exists; drop it or choose another name",
                              "AlreadyExists")
        relation, sql = athena_relation(con, sql)
        columns = _output_columns(relation)
        data = [c for c in columns if c.name not in self.partitioned_by]
        keys = [c for c in columns if c.name in self.partitioned_by]
        if [c.name for c in columns[len(data):]] != self.partitioned_by:
            raise QueryFailed(
                f"partition columns {self.partitioned_by} must be the last columns of the SELECT, in that order "
                f"(the SELECT gives {[c.name for c in columns]})", "InvalidArgument")
        if not data:
            raise QueryFailed("a CTAS needs at least one column that is not a partition column", "InvalidArgument")
        assert self.location is not None
        _require_empty(caller, self.location, self.qualified)
        source = _projection(relation, sql)
        # claimed until the table is complete: a retry after a kill clears what this one left (claims.py)
        claim = claims.put(caller, self.location, self.query.query_execution_id, self.qualified)
        try:
            rows = self._ctas_write(con, source, data, keys)
        except BaseException:
            # the location was empty when claimed: whatever is there now is this statement's (an Iceberg
            # CTAS that failed leaves metadata and data files), so a retry finds it empty
            with contextlib.suppress(CrispmlError):
                claims.clear(caller, self.location, claims.keys_under(caller, self.location))
            raise
        claims.release(caller, claim)
        return rows

    def _ctas_write(self, con: duckdb.DuckDBPyConnection, source: str, data: list[Column],
                    keys: list[Column]) -> int:
        caller = self._caller()
        assert self.location is not None
        if self.iceberg:
            return self._ctas_iceberg(con, source, data, keys)
        written = _copy(con, source, self.fmt, self.options, [k.name for k in keys], self.scratch)
        try:
            uploaded = self._upload(written, self.location, {}, [k.name for k in keys], self.fmt)
            registered = False
            try:
                table_input = _table_input(self.name, self.location, self.fmt, data, keys, self.options)
                caller.catalog.create_table(caller.ctx, CreateTableRequest(database_name=self.database,
                                                                           table_input=TableInput(**table_input)))
                registered = True
                self._add_partitions([values for values, _ in written.parts if values])
            except BaseException:
                if registered:  # a CTAS that failed leaves no table behind
                    with contextlib.suppress(CrispmlError):
                        caller.catalog.delete_table(caller.ctx, TableRequest(database_name=self.database,
                                                                             name=self.name))
                _delete_keys(caller, uploaded)
                raise
        finally:
            shutil.rmtree(written.folder, ignore_errors=True)
        return written.rows

    def _ctas_iceberg(self, con: duckdb.DuckDBPyConnection, source: str, data: list[Column],
                      keys: list[Column]) -> int:
        caller = self._caller()
        table_input: dict[str, Any] = {
            "Name": self.name,
            "StorageDescriptor": {"Columns": [{"Name": c.name, "Type": c.hive_type} for c in data],
                                  "Location": self.location},
            "PartitionKeys": [{"Name": k.name, "Type": k.hive_type} for k in keys],
            "Parameters": {"table_type": "ICEBERG"},
        }
        caller.catalog.create_table(caller.ctx, CreateTableRequest(
            database_name=self.database, table_input=TableInput(**table_input),
            open_table_format_input=OpenTableFormatInput(iceberg_input=IcebergInput(metadata_operation="CREATE"))))
        try:
            return self._append(con, source)
        except BaseException:
            with contextlib.suppress(CrispmlError):  # a CTAS that failed leaves no table behind
                caller.catalog.delete_table(caller.ctx, TableRequest(database_name=self.database, name=self.name))
            raise

    def _append(self, con: duckdb.DuckDBPyConnection, source: str) -> int:
        """Stream the rows of ``source`` into the Iceberg table (one snapshot; none when there are no rows)."""
        reader = con.sql(source).to_arrow_reader(self.query.engine.batch_rows)
        first = next((b for b in reader if b.num_rows), None)
        if first is None:
            return 0
        body = pa.RecordBatchReader.from_batches(reader.schema, itertools.chain([first], reader))
        caller = self._caller()
        response = caller.catalog.append_table_data(caller.ctx, AppendTableDataRequest(
            database_name=self.database, table_name=self.name, body=body))
        return int(response.added_records)

    def _insert(self, con: duckdb.DuckDBPyConnection, sql: str) -> int:
        target = self.target
        assert target is not None
        own = {c.name for c in target.columns}
        columns = target.columns + [k for k in target.keys if k.name not in own]
        relation, sql = athena_relation(con, sql)
        listed = self._listed_columns()
        source_names = list(relation.columns)
        names_in = listed or [c.name for c in columns]
        if len(source_names) != len(names_in):
            raise QueryFailed(
                f"INSERT INTO {self.qualified} gives {len(source_names)} values per row, but "
                f"{'the column list has' if listed else 'the table has'} {len(names_in)} columns "
                f"({', '.join(names_in)})", "InvalidArgument")
        unknown = [n for n in names_in if n not in {c.name for c in columns}]
        if unknown:
            raise QueryFailed(f"table {self.qualified} has no column {unknown[0]!r} (columns: "
                              f"{', '.join(c.name for c in columns)})", "InvalidArgument")
        position = {n: i for i, n in enumerate(names_in)}
        projection = []
        for column in columns:
            at = position.get(column.name)
            value = "NULL" if at is None else readers.quote_ident(source_names[at])
            projection.append(f"CAST({value} AS {duckdb_type(column.hive_type)}) AS {readers.quote_ident(column.name)}")
        source = f"SELECT {', '.join(projection)} FROM ({sql})"
        if target.is_iceberg:
            return self._append(con, source)
        return self._insert_external(con, source, target)

    def _listed_columns(self) -> list[str]:
        node = self.query.statement.tree.this
        if isinstance(node, exp.Schema):
            return [e.name.lower() for e in node.expressions]
        return []

    def _insert_external(self, con: duckdb.DuckDBPyConnection, source: str, target: TableRef) -> int:
        fmt = target.table.format
        options = target.table.csv_options if fmt == "csv" else {}
        keys = [k.name for k in target.keys]
        written = _copy(con, source, fmt, {"field_delimiter": options.get("delim", ","),
                                           "header": options.get("skip", "0")}, keys, self.scratch)
        if written.rows == 0:  # nothing to add: no file, no partition
            shutil.rmtree(written.folder, ignore_errors=True)
            return 0
        try:
            existing: dict[tuple[str, ...], str] = {}
            if keys:
                from crispml.services.query.engines.duckdb.scan import partitions

                existing = {tuple(p.values): p.storage_descriptor.location or "" for p in partitions(
                    self._caller(), target)}
            location = target.table.storage_descriptor.location or ""
            uploaded = self._upload(written, location, existing, keys, fmt)
            try:
                self._add_partitions([v for v, _ in written.parts if v and tuple(v) not in existing])
            except BaseException:
                _delete_keys(self._caller(), uploaded)
                raise
        finally:
            shutil.rmtree(written.folder, ignore_errors=True)
        return written.rows

    def _delete(self, con: duckdb.DuckDBPyConnection) -> int:
        tree = self.query.statement.tree
        where = tree.args.get("where")
        condition = where.this if where is not None else exp.true()
        row_filter = _iceberg_filter(condition)
        assert self.target is not None
        view = readers.quote_ident(f"__scan_{self.query.refs.index(self.target)}")
        counted = con.execute(f"SELECT count(*) FROM {view} WHERE {_unqualified(condition).sql('duckdb')}").fetchone()
        rows = int(counted[0]) if counted else 0
        if rows:
            caller = self._caller()
            response = caller.catalog.delete_table_data(caller.ctx, DeleteTableDataRequest(
                database_name=self.database, table_name=self.name, row_filter=row_filter))
            rows = int(getattr(response, "deleted_records", rows) or rows)
        return rows

    # -- lake and catalog -----------------------------------------------------------

    def _upload(self, written: Written, location: str, existing: dict[tuple[str, ...], str],
                keys: list[str], fmt: str) -> list[tuple[str, str]]:
        """Put every written file into the lake as the caller; return (bucket, key) of each."""
        caller = self._caller()
        uploaded: list[tuple[str, str]] = []
        ext = FORMATS[_format_name(fmt)][2]
        counter = 0
        try:
            for values, files in written.parts:
                folder = existing.get(tuple(values)) or (location + (partition_path(keys, values) if values else ""))
                bucket, prefix = split_location(folder)
                if prefix and not prefix.endswith("/"):
                    prefix += "/"
                for local in files:
                    key = f"{prefix}{self.query.query_execution_id}-{counter:05d}{ext}"
                    counter += 1
                    with open(local, "rb") as body:
                        caller.lake.put_object(caller.ctx, PutObjectRequest(bucket=bucket, key=key, body=body))
                    uploaded.append((bucket, key))
        except BaseException:
            _delete_keys(caller, uploaded)
            raise
        return uploaded

    def _add_partitions(self, values: list[list[str]]) -> None:
        caller = self._caller()
        for start in range(0, len(values), 100):
            batch = [PartitionInput(values=v) for v in values[start:start + 100]]
            response = caller.catalog.batch_create_partition(caller.ctx, BatchCreatePartitionRequest(
                database_name=self.database, table_name=self.name, partition_input_list=batch))
            errors = [e for e in response.errors if e.error_detail.error_code != "AlreadyExistsException"]
            if errors:
                first = errors[0]
                raise QueryFailed(f"partition {first.partition_values} of {self.qualified} could not be "
                                  f"registered: {first.error_detail.error_message}", "InvalidArgument")


def _format_name(classification: str) -> str:
    return {"parquet": "PARQUET", "json": "JSON", "csv": "TEXTFILE"}.get(classification, "PARQUET")


def _output_columns(relation: duckdb.DuckDBPyRelation) -> list[Column]:
    columns: list[Column] = []
    seen: set[str] = set()
    for name, dtype in zip(relation.columns, relation.types, strict=True):
        lowered = name.lower()
        if lowered in seen:
            raise QueryFailed(f"column {lowered!r} appears twice in the SELECT; give each column its own name "
                              "(AS …)", "InvalidArgument")
        seen.add(lowered)
        if str(dtype.id) == "null":
            raise QueryFailed(f"column {lowered!r} has no type (NULL); CAST it, e.g. CAST(NULL AS varchar) AS "
                              f"{lowered}", "InvalidArgument")
        columns.append(Column(lowered, hive_type(dtype)))
    return columns


def _projection(relation: duckdb.DuckDBPyRelation, sql: str) -> str:
    """``sql`` with lower-case column names and each column cast to the type its Hive type reads as."""
    parts = []
    for name, dtype in zip(relation.columns, relation.types, strict=True):
        cast = storable(dtype)
        value = readers.quote_ident(name)
        parts.append(f"{f'CAST({value} AS {cast})' if cast else value} AS {readers.quote_ident(name.lower())}")
    return f"SELECT {', '.join(parts)} FROM ({sql})"


def _copy(con: duckdb.DuckDBPyConnection, source: str, fmt: str, options: dict[str, str],
          keys: list[str], scratch: str | None = None) -> Written:
    """COPY the rows of ``source`` into a scratch folder (under ``scratch``): one file per partition (or one)."""
    folder = tempfile.mkdtemp(prefix="crispml-ctas-", dir=scratch)
    copy_options = [f"FORMAT {FORMATS[_format_name(fmt)][1]}"]
    if fmt == "csv":
        delimiter = options.get("field_delimiter", ",")
        copy_options += [f"DELIMITER {readers.quote_str(delimiter)}", "NULLSTR ''",
                         f"HEADER {'true' if int(options.get('header', '0') or 0) > 0 else 'false'}"]
    if fmt == "parquet" and options.get("write_compression"):
        copy_options.append(f"COMPRESSION {readers.quote_str(options['write_compression'].lower())}")
    try:
        if keys:
            partition_count = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT "
                                      f"{', '.join(readers.quote_ident(k) for k in keys)} FROM ({source}))").fetchone()
            if partition_count and int(partition_count[0]) > MAX_PARTITIONS:
                raise QueryFailed(
                    f"the query writes {partition_count[0]} partitions, more than the limit of {MAX_PARTITIONS} "
                    "per query (HIVE_TOO_MANY_OPEN_PARTITIONS); write them in several INSERT INTO statements",
                    "LimitExceeded")
            copy_options.append(f"PARTITION_BY ({', '.join(readers.quote_ident(k) for k in keys)})")
            target = folder
        else:
            target = os.path.join(folder, "data" + FORMATS[_format_name(fmt)][2])
        counted = con.execute(f"COPY ({source}) TO {readers.quote_str(target)} ({', '.join(copy_options)})").fetchone()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    written = Written(rows=int(counted[0]) if counted else 0, folder=folder)
    for root, _, files in sorted(os.walk(folder)):
        data = sorted(os.path.join(root, f) for f in files if not f.startswith((".", "_")))
        if not data:
            continue
        relative = os.path.relpath(root, folder)
        values = [] if relative == "." else [unquote(seg.split("=", 1)[1]) for seg in relative.split(os.sep)]
        written.parts.append((values, data))
    return written


def _require_empty(caller: Caller, location: str, table: str) -> None:
    """The location holds nothing, or only what killed CTAS statements left there (which is deleted)."""
    bucket, prefix = split_location(location)
    try:
        page = caller.lake.list_objects_v2(caller.ctx, ListObjectsV2Request(bucket=bucket, prefix=prefix, max_keys=1))
        left = claims.abandoned(caller, location, table) if page.key_count else None
        if left is not None:
            claims.clear(caller, location, left)
            return
    except CrispmlError as exc:
        raise QueryFailed(f"the table location {location} cannot be used: {exc.message}", error_type(exc)) from exc
    if page.key_count:
        raise QueryFailed(f"the table location {location} is not empty (HIVE_PATH_ALREADY_EXISTS); choose an empty "
                          "external_location or delete the files there", "AlreadyExists")


def _undo_unfinished(caller: Caller, database: str, name: str, *, check_only: bool = False) -> bool:
    """Whether table ``database.name`` was left by a CTAS killed before it finished; unless ``check_only``,
    the table and its files are deleted."""
    try:
        table = lookup(caller, database, name)
        location = table.storage_descriptor.location or ""
        if not location:
            return False
        if check_only:
            return claims.abandoned(caller, location, f"{database}.{name}") is not None
        return claims.undo_table(caller, database, name, location)
    except CrispmlError:
        return False


def _delete_keys(caller: Caller, keys: list[tuple[str, str]]) -> None:
    for bucket, key in keys:
        with contextlib.suppress(CrispmlError):  # cleaning up after a failure: the failure is what matters
            caller.lake.delete_object(caller.ctx, DeleteObjectRequest(bucket=bucket, key=key))


def _table_input(name: str, location: str, fmt: str, data: list[Column], keys: list[Column],
                 options: dict[str, str]) -> dict[str, Any]:
    serde, input_format, output_format = _SERDE[fmt]
    serde_parameters: dict[str, str] = {}
    parameters = {"classification": fmt}
    if fmt == "csv":
        serde_parameters = {"separatorChar": options.get("field_delimiter", ","), "quoteChar": '"'}
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.hive_type} for c in data],
            "Location": location, "InputFormat": input_format, "OutputFormat": output_format,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters},
        },
        "PartitionKeys": [{"Name": k.name, "Type": k.hive_type} for k in keys],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
    }


def _unqualified(condition: exp.Expr) -> exp.Expr:
    copy = condition.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    return copy


def _iceberg_filter(condition: exp.Expr) -> str:
    """A WHERE condition as the row filter string pyiceberg parses: typed literals (``DATE '2024-01-01'``)
    become plain ones, which pyiceberg converts to the column's type."""
    def plain(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
            literal: exp.Expr = node.this
            return literal
        return node

    return _unqualified(condition).transform(plain).sql()


# -- preparing ------------------------------------------------------------------------


def prepare_write(query: DuckDBQuery, target: exp.Table) -> Write:
    """Check a CTAS/INSERT/DELETE at submission: names, properties, the target table."""
    caller = query.caller
    database, name = names(target, query.database)
    kind = {"CREATE_TABLE_AS_SELECT": "CTAS"}.get(query.substatement_type, query.substatement_type)
    if kind == "CTAS":
        return _prepare_ctas(query, database, name)
    table = lookup(caller, database, name)
    ref = TableRef(database, name, table, None, name)
    if kind in dml.KINDS:
        dml.check_target(kind, ref)
        if kind != "VACUUM":  # the rows are read from a scan of the target, planned like any table reference
            query.refs.append(ref)
        return Write(query, kind, database, name, target=ref)
    if kind == "DELETE":
        if not ref.is_iceberg:
            raise InvalidArgument(f"DELETE FROM {ref.qualified}: only Iceberg tables (table_type=ICEBERG) support "
                                  "row-level deletes; an external table's files are changed in the lake")
        # DELETE counts its rows from a scan of the target, planned like any other table reference
        query.refs.append(ref)
    return Write(query, kind, database, name, target=ref)


def _prepare_ctas(query: DuckDBQuery, database: str, name: str) -> Write:
    caller = query.caller
    properties = {k.lower(): v for k, v in query.statement.properties.items()}
    unknown = sorted(set(properties) - set(_PROPERTIES))
    if unknown:
        raise InvalidArgument(f"CTAS property {unknown[0]!r} is not supported (properties: {', '.join(_PROPERTIES)})")
    table_type = str(properties.get("table_type") or "HIVE").upper()
    if table_type not in ("HIVE", "ICEBERG"):
        raise InvalidArgument(f"table_type {table_type!r} is not supported; use 'HIVE' (default) or 'ICEBERG'")
    iceberg = table_type == "ICEBERG"
    fmt_name = str(properties.get("format") or "PARQUET").upper()
    if fmt_name not in FORMATS:
        raise InvalidArgument(f"format {fmt_name!r} is not supported for CTAS (formats: {', '.join(FORMATS)})")
    if iceberg and fmt_name != "PARQUET":
        raise InvalidArgument("Iceberg tables are written as Parquet; leave format out or set format='PARQUET'")
    partitioned = properties.get("partitioned_by") or []
    if not isinstance(partitioned, list):
        raise InvalidArgument("partitioned_by takes an array of column names, e.g. partitioned_by=ARRAY['day']")
    keys = [str(k).lower() for k in partitioned]
    if len(set(keys)) != len(keys):
        raise InvalidArgument(f"partitioned_by names a column twice: {keys}")
    delimiter = str(properties.get("field_delimiter") or ",")
    if fmt_name != "TEXTFILE" and "field_delimiter" in properties:
        raise InvalidArgument("field_delimiter applies to format='TEXTFILE' only")
    if len(delimiter) != 1 and delimiter not in ("\\t", "\t"):
        raise InvalidArgument(f"field_delimiter must be one character, not {delimiter!r}")
    given = properties.get("external_location") or properties.get("location")
    if given:
        try:
            location = check_location(str(given))
        except InvalidArgument as exc:
            raise InvalidArgument(f"external_location: {exc.message}") from None
    elif query.output_location:
        base = query.output_location if query.output_location.endswith("/") else query.output_location + "/"
        location = check_location(f"{base}tables/{query.query_execution_id}/")
    else:
        raise InvalidArgument("CREATE TABLE AS SELECT needs a location: set external_location='lake://bucket/prefix/' "
                              "or give the workgroup an output location")
    require_database(caller, database)
    if exists(caller, database, name) and not _undo_unfinished(caller, database, name, check_only=True):
        raise AlreadyExists(f"table {database}.{name} already exists; choose another name or delete it with "
                            f"'crispml catalog delete-table --database-name {database} --name {name}'")
    options = {"field_delimiter": "\t" if delimiter == "\\t" else delimiter}
    if properties.get("write_compression"):
        options["write_compression"] = str(properties["write_compression"])
    return Write(query, "CTAS", database, name, fmt=FORMATS[fmt_name][0], partitioned_by=keys, location=location,
                 iceberg=iceberg, options=options)
