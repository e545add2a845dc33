"""ALTER TABLE ADD|DROP PARTITION, MSCK REPAIR TABLE and SHOW PARTITIONS' checks, through the catalog's
partition operations as the caller (``ddl.py`` runs them).

Partitions are those of external (Hive) tables; an Iceberg table keeps its own
in its metadata, and a view has none. Adding refuses partitions that exist
unless ``IF NOT EXISTS``, before it adds any; dropping takes full or partial
specs (a partial one drops every partition it matches), as Hive does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from crispml.core.errors import AlreadyExists, InvalidArgument, NotFound
from crispml.core.hive import partition_path
from crispml.services.catalog.service import (
    BatchCreatePartitionRequest,
    BatchDeletePartitionRequest,
    GetPartitionsRequest,
    Partition,
    PartitionInput,
    Table,
)
from crispml.services.lake.service import ListObjectsV2Request
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.ddl_sql import PartitionSpec
from crispml.services.query.engines.duckdb.scan import split_location

if TYPE_CHECKING:
    from crispml.services.query.engines.duckdb.ddl import DdlQuery, Rows


def partitions_of(caller: Caller, database: str, name: str) -> list[Partition]:
    found: list[Partition] = []
    token = None
    while True:
        page = caller.catalog.get_partitions(caller.ctx, GetPartitionsRequest(
            database_name=database, table_name=name, next_token=token))
        found += page.partitions
        token = page.next_token
        if not token:
            return found


def partitioned(query: DdlQuery, what: str) -> Table:
    table = query.table()
    if table.is_view:
        raise InvalidArgument(f"{query.qualified()} is a view; {what} works on tables")
    if table.is_iceberg:
        raise InvalidArgument(f"{what} is not supported for Iceberg tables ({query.qualified()}): an Iceberg table "
                              "keeps its partitions in its own metadata, not in the catalog")
    if not table.partition_keys:
        raise InvalidArgument(f"table {query.qualified()} is not partitioned")
    return table



def _values(table: Table, spec: PartitionSpec, *, whole: bool) -> list[str | None]:
    """A PARTITION spec's values in the order of the table's keys (None for a key it leaves out)."""
    keys = [k.name for k in table.partition_keys]
    unknown = [k for k in spec.values if k not in keys]
    if unknown:
        raise InvalidArgument(f"table {table.database_name}.{table.name} has no partition key {unknown[0]!r} "
                              f"(keys: {', '.join(keys)})")
    missing = [k for k in keys if k not in spec.values]
    if whole and missing:
        raise InvalidArgument(f"PARTITION ({', '.join(f'{k}=…' for k in spec.values)}) leaves out partition key "
                              f"{missing[0]!r}; name every key ({', '.join(keys)})")
    return [spec.values.get(k) for k in keys]


def _shown(table: Table, values: list[str] | list[str | None]) -> str:
    return ", ".join(f"{k.name}='{v}'" for k, v in zip(table.partition_keys, values, strict=True) if v is not None)


def add_partitions(query: DdlQuery) -> Rows:
    table = partitioned(query, "ALTER TABLE ADD PARTITION")
    wanted: dict[tuple[str, ...], str | None] = {}
    for spec in query.ddl.partitions:
        values = tuple(str(v) for v in _values(table, spec, whole=True))
        wanted[values] = spec.location
    have = {tuple(p.values) for p in partitions_of(query.caller, table.database_name, table.name)}
    there = [v for v in wanted if v in have]
    if there and not query.ddl.if_exists:
        raise AlreadyExists(f"partition ({_shown(table, list(there[0]))}) of {query.qualified()} already exists; "
                            "write ADD IF NOT EXISTS to skip the partitions that exist")
    _create_partitions(query, table, [(list(v), loc) for v, loc in wanted.items() if v not in have])
    return [], []


def _create_partitions(query: DdlQuery, table: Table, wanted: list[tuple[list[str], str | None]]) -> None:
    caller = query.caller
    for start in range(0, len(wanted), 100):
        batch = [PartitionInput(values=values, storage_descriptor=table.storage_descriptor.model_copy(
            update={"location": location}) if location else None) for values, location in wanted[start:start + 100]]
        response = caller.catalog.batch_create_partition(caller.ctx, BatchCreatePartitionRequest(
            database_name=table.database_name, table_name=table.name, partition_input_list=batch))
        errors = [e for e in response.errors if e.error_detail.error_code != "AlreadyExistsException"]
        if errors:
            raise QueryFailed(f"partition {errors[0].partition_values} of {query.qualified()} was not added: "
                              f"{errors[0].error_detail.error_message}", "InvalidArgument")


def drop_partitions(query: DdlQuery) -> Rows:
    table = partitioned(query, "ALTER TABLE DROP PARTITION")
    existing = [p.values for p in partitions_of(query.caller, table.database_name, table.name)]
    doomed: list[list[str]] = []
    for spec in query.ddl.partitions:
        values = _values(table, spec, whole=False)
        matching = [e for e in existing if all(v is None or v == have for v, have in zip(values, e, strict=False))]
        if not matching and not query.ddl.if_exists:
            raise NotFound(f"partition ({_shown(table, values)}) of {query.qualified()} does not exist; write DROP "
                           "IF EXISTS to skip partitions that do not")
        doomed += [m for m in matching if m not in doomed]
    caller = query.caller
    for start in range(0, len(doomed), 25):
        response = caller.catalog.batch_delete_partition(caller.ctx, BatchDeletePartitionRequest.model_validate({
            # values read from the catalog: well-formed, so validated as they are
            "DatabaseName": table.database_name, "TableName": table.name,
            "PartitionsToDelete": [{"Values": v} for v in doomed[start:start + 25]]}))
        errors = [e for e in response.errors if e.error_detail.error_code != "EntityNotFoundException"]
        if errors:
            raise QueryFailed(f"partition {errors[0].partition_values} of {query.qualified()} was not dropped: "
                              f"{errors[0].error_detail.error_message}", "InvalidArgument")
    return [], []


def repair(query: DdlQuery) -> Rows:
    """MSCK REPAIR TABLE: add the Hive-style folders (``key=value/``) under the table's location that the
    catalog lacks, as Athena does (partitions whose folders are gone are left as they are)."""
    table = partitioned(query, "MSCK REPAIR TABLE")
    keys = [k.name for k in table.partition_keys]
    location = table.storage_descriptor.location or ""
    bucket, prefix = split_location(location)
    found: dict[tuple[str, ...], None] = {}
    caller = query.caller
    token = None
    while True:
        page = caller.lake.list_objects_v2(caller.ctx, ListObjectsV2Request(
            bucket=bucket, prefix=prefix, continuation_token=token))
        for item in page.contents:
            folders = item.key[len(prefix):].split("/")[:-1]
            if len(folders) < len(keys):
                continue
            pairs = [f.split("=", 1) for f in folders[:len(keys)]]
            if all(len(p) == 2 and p[0].lower() == k for p, k in zip(pairs, keys, strict=True)):
                found[tuple(unquote(p[1]) for p in pairs)] = None
        token = page.next_continuation_token
        if not page.is_truncated or not token:
            break
    have = {tuple(p.values) for p in partitions_of(caller, table.database_name, table.name)}
    missing = [list(v) for v in found if v not in have]
    _create_partitions(query, table, [(v, None) for v in missing])
    shown = [f"{table.name}:{partition_path(keys, v).rstrip('/')}" for v in missing]
    lines = ([f"Partitions not in metastore:\t{' '.join(shown)}"] if shown else []) + [
        f"Repair: Added partition to metastore {s}" for s in shown]
    return ["result"], [[line] for line in lines]
