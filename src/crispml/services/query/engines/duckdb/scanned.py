"""Bytes scanned as Athena counts them: for Parquet, the column chunks a statement reads.

Athena bills a Parquet table by the column chunks it reads, not by file size:
``SELECT sum(carat)`` over a wide table counts the ``carat`` chunks and the
footers. :func:`projected` finds, from the parsed statement, which of a table
reference's columns it uses (every column under a ``*``, none for
``count(*)``); :func:`parquet_bytes` adds up those columns' chunks from each
file's footer (row groups are all counted: pruning them by statistics is
DuckDB's, decided while it runs). A file whose footer cannot be read counts
whole — the read itself will fail naming it. Each footer read also records
the file's columns, so a reader of files that all predate an added column
reads it as NULL. CSV and JSON files are read
whole and count whole, as in Athena. Deliberately not here: which files are
read (``scan.py``) and how they are reached (``access.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from crispml.services.query.engines.base import Caller
from crispml.services.query.engines.duckdb.resolve import TableRef
from crispml.services.query.engines.duckdb.scan import DataFile, Scan

#: The footer's length field and the closing ``PAR1``, which a reader reads with the footer.
_FOOTER_TAIL = 8


def projected(tree: exp.Expr | None, ref: TableRef) -> set[str] | None:
    """Lower-case names of ``ref``'s columns the statement reads, or None when it reads all of them."""
    if tree is None:
        return None
    names = {c.name.lower() for c in ref.columns}
    alias = ref.alias.lower()
    for star in tree.find_all(exp.Star):
        parent = star.parent
        if isinstance(parent, exp.Count):
            continue  # count(*) reads no column
        if isinstance(parent, exp.Column) and parent.table and parent.table.lower() != alias:
            continue  # other.*
        return None
    used: set[str] = set()
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        table, name = column.table.lower(), column.name.lower()
        if (not table or table == alias) and name in names:
            used.add(name)
        elif table in names:  # a struct's field: s.a
            used.add(table)
    return used


def parquet_bytes(metadata: pq.FileMetaData, columns: set[str] | None) -> int:
    """The footer and the chunks of ``columns`` (top-level names, lower-case; None: all) in every row group."""
    total = int(metadata.serialized_size) + _FOOTER_TAIL
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for position in range(row_group.num_columns):
            chunk = row_group.column(position)
            if columns is None or chunk.path_in_schema.split(".", 1)[0].lower() in columns:
                total += int(chunk.total_compressed_size)
    return total


def file_bytes(open_file: Callable[[], Any], file: DataFile, columns: set[str] | None) -> int:
    """What reading ``columns`` of one Parquet file scans; its whole size if its footer cannot be read.
    Records the file's top-level column names on ``file``."""
    try:
        with open_file() as handle:
            metadata = pq.read_metadata(handle)
    except (OSError, ValueError, pa.ArrowException):
        return file.size
    file.columns = frozenset(name.lower() for name in metadata.schema.to_arrow_schema().names)
    return min(file.size, parquet_bytes(metadata, columns))


def scanned_bytes(caller: Caller, scan: Scan, paths: list[list[str]], tree: exp.Expr | None) -> int:
    """What a scan reads: Parquet column chunks of the columns the statement uses, other files whole.

    ``paths`` are where each file is read (``access.py``): a local path is opened directly, a
    ``lake://`` URI through the lake's filesystem as the caller."""
    parquet = scan.iceberg is not None or scan.ref.table.format == "parquet"
    if not parquet:
        return scan.bytes
    columns = projected(tree, scan.ref)
    fs: Any = None
    total = 0
    for part, part_paths in zip(scan.parts, paths, strict=True):
        for file, path in zip(part.files, part_paths, strict=True):
            if path.startswith("lake://"):
                if fs is None:
                    fs = caller.lake.filesystem(caller.ctx)
                opener = functools.partial(fs.open, path, "rb")
            else:
                opener = functools.partial(open, path, "rb")
            total += file_bytes(opener, file, columns)
    return total
