"""Preparing a load's target table, as DMS's ``TargetTablePrepMode``: create it from the source's schema, drop
and create it again, or empty it.

- A target table that does not exist is created when a run starts, in every
  mode (as DMS does): its columns are the source's — a database table's as the
  database declares them, a query's, a CSV or JSON file's as Arrow infers them
  from the first rows, a Parquet file's from its schema — with Glue (Hive)
  types and lower-case names; it is a managed (Iceberg) table unless the
  Target's ``TableFormat`` asks for an external one of Parquet, CSV or JSON
  files; its files go to the Target's ``Location`` or under the database's
  ``LocationUri``. A run that fails after creating it leaves it empty, ready
  for the next run.
- ``DROP_AND_CREATE``: each full load (a run that loads everything: bookmarks
  disabled, or no bookmark yet) replaces the table by one made from the
  source's schema. The rows are read and fitted to the new definition first;
  the old table goes only when they are ready to commit. When the new
  definition is the managed table that exists already (same columns, same
  place), the replacement is one overwrite commit, so a kill at any point
  leaves the old rows or the new ones; otherwise the old table is deleted (an
  external table's files with it), the new one created and loaded.
- ``TRUNCATE_BEFORE_LOAD``: each full load empties the table, keeping its
  definition: a managed table's rows are replaced in the run's one commit; an
  external table's files are deleted just before the run's files are put.
- ``DO_NOTHING`` (and no mode): an existing table is left as it is.

Deliberately not here: reading the source (``sources/``), writing the rows
(``targets/``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.catalog.service import (
    CatalogService,
    CreateTableRequest,
    DatabaseRequest,
    Table,
    TableRequest,
)
from crispml.services.ingest.entities import JobTarget
from crispml.services.ingest.errors import EntityNotFoundException, InvalidInputException
from crispml.services.lake.service import DeleteObjectRequest, LakeService

#: Glue's limit on a decimal's precision.
_MAX_PRECISION = 38
#: How a created external table's files are described, by format.
_EXTERNAL: dict[str, dict[str, Any]] = {
    "parquet": {},
    "json": {},
    "csv": {"SerdeInfo": {"Parameters": {"field.delim": ",", "skip.header.line.count": "1"}}},
}


# -- types -----------------------------------------------------------------------------------------


def arrow_hive_type(kind: pa.DataType, column: str) -> str:
    """The Glue (Hive) type of a column Arrow holds as ``kind``; a column of NULLs only is ``string``."""
    t = pa.types
    if t.is_boolean(kind):
        return "boolean"
    if t.is_int8(kind) or t.is_int16(kind) or t.is_int32(kind) or t.is_uint8(kind) or t.is_uint16(kind):
        return "int"
    if t.is_int64(kind) or t.is_uint32(kind):
        return "bigint"
    if t.is_uint64(kind):
        return "decimal(20,0)"
    if t.is_float16(kind) or t.is_float32(kind):
        return "float"
    if t.is_float64(kind):
        return "double"
    if t.is_decimal(kind):
        # a query's decimals are inferred from the first rows: leave room for wider values in later ones
        scale = min(kind.scale, _MAX_PRECISION)
        return f"decimal({_MAX_PRECISION},{scale})"
    if t.is_date(kind):
        return "date"
    if t.is_timestamp(kind):
        return "timestamp"
    if t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind):
        return "binary"
    if t.is_list(kind) or t.is_large_list(kind):
        return f"array<{arrow_hive_type(kind.value_type, column)}>"
    if t.is_struct(kind):
        fields = ",".join(f"{kind.field(i).name}:{arrow_hive_type(kind.field(i).type, column)}"
                          for i in range(kind.num_fields))
        return f"struct<{fields}>"
    if t.is_map(kind):
        return f"map<{arrow_hive_type(kind.key_type, column)},{arrow_hive_type(kind.item_type, column)}>"
    return "string"  # text, NULLs only, times of day, anything else: kept as its text


def sql_hive_type(kind: Any, dialect: str) -> str:
    """The Glue (Hive) type of a column of SQLAlchemy type ``kind`` in a database of ``dialect``."""
    import sqlalchemy as sa

    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.SmallInteger):
        return "int"
    if isinstance(kind, sa.Integer):  # SQLite's INTEGER holds 64 bits, PostgreSQL's 32
        return "bigint" if dialect == "sqlite" else "int"
    if isinstance(kind, sa.Float):  # before Numeric, which it subclasses
        single = type(kind).__name__.upper() == "REAL" or (kind.precision is not None and kind.precision <= 24)
        return "float" if single else "double"
    if isinstance(kind, sa.Numeric):
        if kind.precision is None or kind.precision > _MAX_PRECISION:  # unbounded: room on both sides
            return f"decimal({_MAX_PRECISION},10)"
        return f"decimal({kind.precision},{kind.scale or 0})"
    if isinstance(kind, sa.DateTime):
        return "timestamp"
    if isinstance(kind, sa.Date):
        return "date"
    if isinstance(kind, sa.LargeBinary | sa.BINARY | sa.VARBINARY):
        return "binary"
    return "string"  # text, varchar, uuid, json, time, interval, enums: as their text


# -- the table a run loads -------------------------------------------------------------------------------


@dataclass
class Prepared:
    """The table a run's rows are fitted to, and what happens to the existing one when they are committed."""

    table: Table
    replace: dict[str, Any] | None = None  # DROP_AND_CREATE: the new definition, created at commit time
    truncate: bool = False  # empty the table as the rows are committed


def prepare(catalog: CatalogService, ctx: CallContext, target: JobTarget, full_load: bool,
            columns: Callable[[], list[tuple[str, str]]]) -> Prepared:
    """The table to load: the existing one, one created now (it was missing), or the plan of its replacement."""
    try:
        table = catalog.get_table(ctx, TableRequest(database_name=target.database_name,
                                                    name=target.table_name)).table
    except EntityNotFoundException:
        table = None
    mode = target.target_table_prep_mode
    if table is None:
        definition = _definition(catalog, ctx, target, columns)
        return Prepared(table=_create(catalog, ctx, target, definition))
    if not full_load or mode in (None, "DO_NOTHING"):
        return Prepared(table=table)
    if mode == "TRUNCATE_BEFORE_LOAD":
        return Prepared(table=table, truncate=True)
    definition = _definition(catalog, ctx, target, columns, location=table.storage_descriptor.location)
    planned = _planned(target, definition, table)
    if table.is_iceberg and planned.is_iceberg and not table.partition_keys and (
            CatalogService.arrow_schema(table) == CatalogService.arrow_schema(planned)):
        return Prepared(table=table, truncate=True)  # the same table: replacing its rows is one commit
    return Prepared(table=planned, replace=definition)


def replace(catalog: CatalogService, lake: LakeService, ctx: CallContext, target: JobTarget,
            definition: dict[str, Any]) -> Table:
    """DROP_AND_CREATE, at commit time: delete the old table (an external one's files too), create the new."""
    old = catalog.get_table(ctx, TableRequest(database_name=target.database_name, name=target.table_name)).table
    if not old.is_iceberg:
        delete_files(lake, ctx, old)
    with contextlib.suppress(EntityNotFoundException):
        catalog.delete_table(ctx, TableRequest(database_name=target.database_name, name=target.table_name))
    return _create(catalog, ctx, target, definition)


def delete_files(lake: LakeService, ctx: CallContext, table: Table) -> int:
    """Delete the files under an external table's location (TRUNCATE_BEFORE_LOAD, DROP_AND_CREATE)."""
    location = (table.storage_descriptor.location or "")[len("lake://"):]
    fs = lake.filesystem(ctx)
    try:
        keys = sorted(fs.find(location))
    except FileNotFoundError:
        return 0
    for path in keys:
        bucket, _, key = path.partition("/")
        lake.delete_object(ctx, DeleteObjectRequest(bucket=bucket, key=key))
    return len(keys)


def _definition(catalog: CatalogService, ctx: CallContext, target: JobTarget,
                source_columns: Callable[[], list[tuple[str, str]]], location: str | None = None) -> dict[str, Any]:
    """A CreateTable request (as JSON) for the target, with the source's columns (read once the table's
    place is known)."""
    from crispml.services.ingest.jobs import new_table_location

    if location is None:
        database = catalog.get_database(ctx, DatabaseRequest(name=target.database_name)).database
        location = new_table_location(target, database.location_uri)
    columns = source_columns()
    if not columns:
        raise InvalidInputException(f"the source has no columns to create table {target.database_name}."
                                    f"{target.table_name} from")
    names = [n.lower() for n, _ in columns]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise InvalidInputException(f"the source has column {twice!r} twice (Glue's names are lower-case)")
    sd: dict[str, Any] = {"Columns": [{"Name": n, "Type": t} for n, (_, t) in zip(names, columns, strict=True)],
                          "Location": location}
    request: dict[str, Any] = {"DatabaseName": target.database_name, "TableInput": {
        "Name": target.table_name, "StorageDescriptor": sd}}
    if target.table_format == "iceberg":
        request["OpenTableFormatInput"] = {"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}}
    else:
        sd.update(_EXTERNAL[target.table_format])
        request["TableInput"]["Parameters"] = {"classification": target.table_format}
    return request


def _planned(target: JobTarget, definition: dict[str, Any], old: Table) -> Table:
    """The table ``definition`` would create, as an entity (nothing created)."""
    given = CreateTableRequest.model_validate(definition).table_input
    return Table.model_validate({**given.model_dump(), "database_name": target.database_name,
                                 "create_time": old.create_time, "update_time": old.update_time,
                                 "version_id": "0"})


def _create(catalog: CatalogService, ctx: CallContext, target: JobTarget, definition: dict[str, Any]) -> Table:
    try:
        catalog.create_table(ctx, CreateTableRequest.model_validate(definition))
    except CrispmlError as exc:
        if exc.code != "AlreadyExistsException":  # another run created it meanwhile: load that one
            raise type(exc)(f"creating table {target.database_name}.{target.table_name} from the source's "
                            f"schema failed: {exc.message}") from exc
    return catalog.get_table(ctx, TableRequest(database_name=target.database_name, name=target.table_name)).table

