"""Reading managed (Iceberg) tables: the catalog plans the scan, DuckDB reads the data files.

The catalog's ``plan_scan`` returns the data files of the snapshot asked for
(the current one, ``FOR VERSION AS OF <snapshot id>`` or ``FOR TIMESTAMP AS OF
<instant>``); DuckDB reads them like any other Parquet files, each read
authorized as the caller. A snapshot with delete files is read through
pyiceberg (``to_arrow()``, which applies the deletes) and handed to DuckDB as
an Arrow table. Partitions are pruned as for external tables: the WHERE
conjuncts on partition keys are evaluated over each data file's partition
values, so a pruned file is neither counted in the bytes scanned nor read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
from crispml.core.errors import CrispmlError, InvalidArgument, NotFound
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.errors import error_type
from crispml.services.query.engines.duckdb.readers import path_list, quote_ident
from crispml.services.query.engines.duckdb.resolve import TableRef
from crispml.services.query.engines.duckdb.scan import DataFile, Part, Scan, prune, split_location
from crispml.services.query.engines.duckdb.seal import sealed_database

if TYPE_CHECKING:
    from crispml.services.catalog.service import DataFileRef


def _instant(sql: str) -> datetime:
    """The instant a ``FOR TIMESTAMP AS OF`` expression names (UTC when it names no zone)."""
    con = sealed_database({}, settings=["SET TimeZone = 'UTC'"])
    try:
        row = con.execute(f"SELECT CAST({sql} AS TIMESTAMPTZ)").fetchone()
    except duckdb.Error as exc:
        raise QueryFailed(f"FOR TIMESTAMP AS OF needs a timestamp, e.g. TIMESTAMP '2024-01-31 12:00:00 UTC': "
                          f"{str(exc).splitlines()[0]}", "InvalidArgument") from exc
    finally:
        con.close()
    if row is None or row[0] is None:
        raise QueryFailed("FOR TIMESTAMP AS OF needs a timestamp, not NULL", "InvalidArgument")
    value: datetime = row[0]
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def plan(caller: Caller, ref: TableRef, con: duckdb.DuckDBPyConnection | None) -> Scan:
    """The data files of the snapshot a reference reads."""
    snapshot_id: int | None = None
    as_of: datetime | None = None
    if ref.as_of is not None:
        kind, value = ref.as_of
        if kind == "VERSION":
            snapshot_id = int(value)
        else:
            as_of = _instant(value)
    try:
        planned = caller.catalog.plan_scan(caller.ctx, ref.database, ref.name, snapshot_id=snapshot_id, as_of=as_of)
    except NotFound as exc:
        raise QueryFailed(f"table {ref.qualified}: {exc.message}", "NotFound") from exc
    except InvalidArgument as exc:
        raise QueryFailed(f"table {ref.qualified}: {exc.message}", "InvalidArgument") from exc
    except CrispmlError as exc:
        raise QueryFailed(f"table {ref.qualified}: {exc.message}", error_type(exc)) from exc
    files = [DataFile(*split_location(f.uri), int(f.size_bytes)) for f in planned.files]
    if ref.prune and ref.keys:
        files = _pruned(ref, planned.files, files, con)
    location = ref.table.storage_descriptor.location or ""
    return Scan(ref, [Part([], location, files)], iceberg=planned)


@dataclass
class _Values:
    values: list[str | None]


def _pruned(ref: TableRef, refs: list[DataFileRef], files: list[DataFile],
            con: duckdb.DuckDBPyConnection | None) -> list[DataFile]:
    """The data files whose partition values can satisfy the statement's conjuncts on partition keys
    (files of a partition spec that does not hold every key as itself are always kept)."""
    keys = [k.name for k in ref.keys]
    groups: dict[tuple[str | None, ...], list[DataFile]] = {}
    kept: list[DataFile] = []
    for ref_file, file in zip(refs, files, strict=True):
        partition = getattr(ref_file, "partition", None) or {}
        if all(k in partition for k in keys):
            groups.setdefault(tuple(partition[k] for k in keys), []).append(file)
        else:
            kept.append(file)
    candidates = [_Values(list(v)) for v in groups]
    for survivor in prune(ref, candidates, con):
        kept += groups[tuple(survivor.values)]
    return kept


def scan_sql(con: duckdb.DuckDBPyConnection, scan: Scan, paths: list[str], name: str) -> str:
    """The SELECT over an Iceberg scan whose reads were authorized (``paths``): its data files, or pyiceberg's
    rows when delete files apply (registered on ``con`` as ``__arrow_<name>``)."""
    planned = scan.iceberg
    assert planned is not None  # an Iceberg table's scan
    ref = scan.ref
    names = ", ".join(quote_ident(f.name) for f in planned.arrow_schema)
    if planned.has_deletes or not paths:
        try:
            table = planned.to_arrow()
        except CrispmlError as exc:
            raise QueryFailed(f"table {ref.qualified}: {exc.message}", error_type(exc)) from exc
        except FileNotFoundError as exc:
            raise QueryFailed(f"table {ref.qualified}: a data file is missing: {exc}", "NotFound") from exc
        source = f"__arrow_{name}"
        con.register(source, table)
        return f"SELECT {names} FROM {quote_ident(source)}"
    schemas = {f.schema for f in scan.files}
    one_schema = len(schemas) == 1 and None not in schemas  # the files' footers were read when planned
    return (f"SELECT {names} FROM read_parquet({path_list(paths)}, "
            f"union_by_name={'false' if one_schema else 'true'})")
