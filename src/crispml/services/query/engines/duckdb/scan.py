"""Planning a table's scan: which partitions survive pruning, and which files they hold.

An external table's files are the objects under its location, or under each
of its catalog partitions' locations (listed with ``ListObjectsV2`` as the
caller, recursively, skipping empty objects and Hive's hidden ``_``/``.``
files). Partitions are pruned before any listing: the WHERE conjuncts that use
only partition keys are evaluated by DuckDB over a small table of partition
values, so a query on one day of a year-long table lists and reads one day.
A partition (or an unpartitioned table) whose location holds no files any
more fails the query with ``NotFound`` — its files were deleted. An
unpartitioned table located at a file (``lake://raw/evolve/f1.csv/``, as
the crawler locates a file that fits no other) reads that file. Nothing here
reads a data file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

import duckdb
from crispml.core.errors import CrispmlError, NotFound
from crispml.services.catalog.service import GetPartitionsRequest, Partition
from crispml.services.lake.service import ListObjectsV2Request
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.errors import error_type
from crispml.services.query.engines.duckdb.readers import quote_ident
from crispml.services.query.engines.duckdb.resolve import TableRef
from crispml.services.query.engines.duckdb.types import duckdb_type

if TYPE_CHECKING:
    from crispml.services.catalog.service import IcebergScan

PRUNE_ALIAS = "__partition"


@dataclass
class DataFile:
    bucket: str
    key: str
    size: int
    #: A Parquet file's top-level columns as (name, Arrow type) pairs, once its footer was read (``scanned.py``):
    #: files of one schema are read without reconciling their columns by name (``readers.read_parquet``).
    schema: frozenset[tuple[str, str]] | None = None

    @property
    def columns(self) -> frozenset[str] | None:
        """A Parquet file's top-level column names (lower-case), once its footer was read."""
        return None if self.schema is None else frozenset(name.lower() for name, _ in self.schema)

    @property
    def uri(self) -> str:
        return f"lake://{self.bucket}/{self.key}"


@dataclass
class Part:
    """A partition (or the whole unpartitioned table): its key values and files."""

    values: list[str]
    location: str
    files: list[DataFile] = field(default_factory=list)


@dataclass
class Scan:
    """What one table reference reads."""

    ref: TableRef
    parts: list[Part] = field(default_factory=list)
    #: An Iceberg table's scan (the catalog's ``plan_scan``), or None for an external table.
    iceberg: IcebergScan | None = None

    @property
    def files(self) -> list[DataFile]:
        return [f for part in self.parts for f in part.files]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def split_location(location: str) -> tuple[str, str]:
    """``lake://bucket/prefix/`` → (bucket, ``prefix/``)."""
    rest = location.split("://", 1)[1] if "://" in location else location
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def list_objects(caller: Caller, location: str) -> list[DataFile]:
    """Every object under a lake prefix (folder markers aside), recursively, in key order."""
    bucket, prefix = split_location(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    found: list[DataFile] = []
    token = None
    while True:
        page = caller.lake.list_objects_v2(caller.ctx, ListObjectsV2Request(bucket=bucket, prefix=prefix,
                                                                            continuation_token=token))
        found += [DataFile(bucket, obj.key, int(obj.size)) for obj in page.contents if not obj.key.endswith("/")]
        if not page.is_truncated:
            return found
        token = page.next_continuation_token


def _the_object(caller: Caller, location: str) -> list[DataFile]:
    """The one object a location names, when it names a file rather than a folder (Glue's crawler gives a
    file that fits no other file of its folder a table of its own, located at the file)."""
    bucket, key = split_location(location.rstrip("/"))
    if not key:
        return []
    page = caller.lake.list_objects_v2(caller.ctx, ListObjectsV2Request(bucket=bucket, prefix=key, max_keys=1))
    return [DataFile(bucket, obj.key, int(obj.size)) for obj in page.contents if obj.key == key]


def is_data(file: DataFile) -> bool:
    """Whether an object holds rows: not empty, and not one of Hive's hidden ``_…``/``.…`` files."""
    return file.size > 0 and not file.key.rsplit("/", 1)[-1].startswith(("_", "."))


def partitions(caller: Caller, ref: TableRef) -> list[Partition]:
    """Every catalog partition of a table, in the order they were added."""
    found: list[Partition] = []
    token = None
    while True:
        page = caller.catalog.get_partitions(caller.ctx, GetPartitionsRequest(
            database_name=ref.database, table_name=ref.name, next_token=token))
        found += page.partitions
        token = page.next_token
        if not token:
            return found


def prune(ref: TableRef, candidates: list[Any], con: duckdb.DuckDBPyConnection | None) -> list[Any]:
    """The partitions whose key values can satisfy the statement's conjuncts on partition keys (``con``
    evaluates them: it may be None only for a reference with none)."""
    if not ref.prune or not candidates:
        return candidates
    assert con is not None, "a reference with partition predicates is planned with a DuckDB connection"
    keys = ref.keys
    data = {"__i": pa.array(range(len(candidates)), pa.int64())}
    for position in range(len(keys)):
        data[f"__k{position}"] = pa.array([p.values[position] if position < len(p.values) else None
                                           for p in candidates], pa.string())
    values = pa.table(data)
    typed = ", ".join(f"TRY_CAST(__k{i} AS {duckdb_type(k.hive_type)}) AS {quote_ident(k.name)}"
                      for i, k in enumerate(keys))
    sql = (f"SELECT __i FROM (SELECT __i, {typed} FROM __partition_values) AS {PRUNE_ALIAS} "
           f"WHERE {' AND '.join(f'({c})' for c in ref.prune)}")
    try:
        con.register("__partition_values", values)
        kept = {int(row[0]) for row in con.execute(sql).fetchall()}
    except duckdb.Error:
        return candidates  # the statement itself will report what is wrong with the predicate
    finally:
        con.unregister("__partition_values")
    return [p for i, p in enumerate(candidates) if i in kept]


def _folder(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def _assign(files: list[DataFile], parts: list[Part]) -> None:
    """Give each partition the listed objects under its location (the deepest location holding one wins;
    partitions sharing a folder each get its files, read under their own values, as Athena does)."""
    by_folder: dict[str, list[Part]] = {}
    for part in parts:
        by_folder.setdefault(part.location, []).append(part)
    for file in files:
        uri = file.uri
        end = uri.rfind("/")
        while end > len("lake://"):
            sharing = by_folder.get(uri[:end + 1])
            if sharing is not None:
                for part in sharing:
                    part.files.append(file)
                break
            end = uri.rfind("/", 0, end)


def plan_external(caller: Caller, ref: TableRef, con: duckdb.DuckDBPyConnection | None) -> Scan:
    """The files an external table reference reads, after partition pruning."""
    location = ref.table.storage_descriptor.location or ""
    try:
        if not ref.keys:
            objects = list_objects(caller, location) or _the_object(caller, location)
            if not objects:
                raise QueryFailed(
                    f"table {ref.qualified} has no files under {location} (were they deleted?); "
                    "put files there or run its crawler again", "NotFound")
            files = [f for f in objects if is_data(f)]
            return Scan(ref, [Part([], location, files)] if files else [])
        candidates = partitions(caller, ref)
        kept = prune(ref, candidates, con)
        scan = Scan(ref, [Part(list(p.values), _folder(p.storage_descriptor.location or location)) for p in kept])
        if len(kept) > 1 and 2 * len(kept) >= len(candidates) \
                and all(part.location.startswith(location) for part in scan.parts):
            _assign(list_objects(caller, location), scan.parts)  # one listing for most of the table
        else:
            listed: dict[str, list[DataFile]] = {}  # partitions sharing a folder: one listing
            for part in scan.parts:
                if part.location not in listed:
                    listed[part.location] = list_objects(caller, part.location)
                part.files = list(listed[part.location])
        for part in scan.parts:
            if not part.files:
                raise QueryFailed(
                    f"partition {part.values} of table {ref.qualified} has no files under {part.location} "
                    "(were they deleted?); delete the partition or run the table's crawler again", "NotFound")
            part.files = [f for f in part.files if is_data(f)]
        scan.parts = [part for part in scan.parts if part.files]  # only empty or hidden files: no rows
        return scan
    except NotFound as exc:
        raise QueryFailed(f"table {ref.qualified} cannot be read: {exc.message}", "NotFound") from exc
    except CrispmlError as exc:
        raise QueryFailed(f"table {ref.qualified} cannot be read: {exc.message}", error_type(exc)) from exc
