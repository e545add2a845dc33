"""Bytes scanned as Athena counts them: for Parquet, the column chunks a statement reads.

Athena bills a Parquet table by the column chunks it reads, not by file size:
``SELECT sum(carat)`` over a wide table counts the ``carat`` chunks and the
footers. :func:`projected` finds, from the parsed statement, which of a table
reference's columns it uses (every column under a ``*``, none for
``count(*)``); :func:`parquet_bytes` adds up those columns' chunks from each
file's footer, in the row groups the WHERE clause can match: a conjunct
``column <op> literal`` (``= < <= > >=``, ``BETWEEN``) whose literal lies
outside a row group's min/max statistics drops that row group, as the reader
skips it. (Anything more complex keeps every row group: the count may be
high, never low.) A file whose footer cannot be read counts
whole — the read itself will fail naming it. Each footer read also records
the file's columns, so a reader of files that all predate an added column
reads it as NULL, and files of one schema are read without reconciling
their columns. CSV and JSON files are read
whole and count whole, as in Athena. A local file's footer is read once per
engine (:class:`Footers`): blobs never change once written (a put makes a new
blob), so statements over the same files read no footer again. Deliberately
not here: which files are read (``scan.py``) and how they are reached
(``access.py``).
"""

from __future__ import annotations

import datetime
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
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


#: A row-group filter: (column, operator, literal value).
Filter = tuple[str, str, Any]
_OPERATORS: dict[type[exp.Expr], str] = {exp.EQ: "=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_FLIPPED = {"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}


def row_group_filters(ref: TableRef) -> list[Filter]:
    """The WHERE conjuncts of ``ref``'s SELECT that compare one of its columns with a literal."""
    node = ref.node
    parent = node.parent if node is not None else None
    select = parent.parent if isinstance(parent, exp.From | exp.Join) else None
    if not isinstance(select, exp.Select) or select.args.get("where") is None:
        return []
    joins: list[exp.Join] = list(select.args.get("joins") or [])
    if any(str(j.args.get("side") or "").upper() in ("LEFT", "RIGHT", "FULL") for j in joins):
        return []  # outer joins: left to the reader
    names = {c.name.lower() for c in ref.columns}
    alias = ref.alias.lower()
    found: list[Filter] = []
    for conjunct in _conjuncts(select.args["where"].this):
        pairs: list[tuple[exp.Expr, str, exp.Expr]] = []
        if isinstance(conjunct, exp.Between):
            pairs = [(conjunct.this, ">=", conjunct.args["low"]), (conjunct.this, "<=", conjunct.args["high"])]
        elif type(conjunct) in _OPERATORS:
            op = _OPERATORS[type(conjunct)]
            pairs = [(conjunct.this, op, conjunct.expression), (conjunct.expression, _FLIPPED[op], conjunct.this)]
        for column, op, other in pairs:
            if not isinstance(column, exp.Column) or column.name.lower() not in names \
                    or (column.table and column.table.lower() != alias):
                continue
            value = _literal(other)
            if value is not None:
                found.append((column.name.lower(), op, value))
    return found


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    return [condition]


def _literal(node: exp.Expr) -> Any:
    """A number, string or date literal's value, else None."""
    if isinstance(node, exp.Neg):
        inner = _literal(node.this)
        return -inner if isinstance(inner, int | float) else None
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE and isinstance(node.this, exp.Literal):
        try:
            return datetime.date.fromisoformat(node.this.this)
        except ValueError:
            return None
    if not isinstance(node, exp.Literal):
        return None
    if node.is_string:
        return node.this
    try:
        return int(node.this)
    except ValueError:
        try:
            return float(node.this)
        except ValueError:
            return None


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return True
    if isinstance(a, datetime.datetime) or isinstance(b, datetime.datetime):
        return False
    return type(a) is type(b) and isinstance(a, str | datetime.date)


def _excluded(statistics: Any, op: str, value: Any) -> bool:
    """Whether a row group's statistics prove no row satisfies ``column <op> value``."""
    if statistics is None or not statistics.has_min_max:
        return False
    low, high = statistics.min, statistics.max
    if not (_comparable(low, value) and _comparable(high, value)):
        return False
    return bool({"=": value < low or value > high, ">": high <= value, ">=": high < value,
                 "<": low >= value, "<=": low > value}[op])


def _kept(row_group: Any, filters: list[Filter]) -> bool:
    if not filters:
        return True
    chunks = {row_group.column(i).path_in_schema.lower(): row_group.column(i) for i in range(row_group.num_columns)}
    for column, op, value in filters:
        chunk = chunks.get(column)
        if chunk is not None and _excluded(chunk.statistics, op, value):
            return False
    return True


def parquet_bytes(metadata: pq.FileMetaData, columns: set[str] | None, filters: list[Filter] | None = None) -> int:
    """The footer and the chunks of ``columns`` (top-level names, lower-case; None: all) in the row groups
    ``filters`` may match."""
    total = int(metadata.serialized_size) + _FOOTER_TAIL
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        if not _kept(row_group, filters or []):
            continue
        for position in range(row_group.num_columns):
            chunk = row_group.column(position)
            if columns is None or chunk.path_in_schema.split(".", 1)[0].lower() in columns:
                total += int(chunk.total_compressed_size)
    return total


#: Footers of local files a :class:`Footers` keeps (a footer is a few KB for a few columns).
FOOTERS = 4096
#: Counts kept per footer (one per set of columns and row-group filters a statement used).
_COUNTS = 32


@dataclass
class _Footer:
    stamp: tuple[int, int, int]  # size, modification time, inode
    metadata: pq.FileMetaData
    schema: frozenset[tuple[str, str]]  # (name, Arrow type) of each top-level column
    counted: dict[tuple[Any, ...], int] = field(default_factory=dict)


class Footers:
    """Parquet footers of local lake files, read once: a blob's path names bytes that never change (a put
    writes a new blob), and the file's size, modification time and inode are checked at each use too, so
    a file replaced in place outside crispml is read again. Only the files a statement was authorized to
    read are looked up, so a footer kept here tells a statement nothing about a file it may not read."""

    def __init__(self, keep: int = FOOTERS) -> None:
        self.keep = keep
        self._found: OrderedDict[str, _Footer] = OrderedDict()
        self._lock = threading.Lock()

    def file_bytes(self, path: str, file: DataFile, columns: set[str] | None, filters: list[Filter]) -> int:
        """:func:`file_bytes` of the local file ``path``, from its kept footer (and count) when it has one."""
        try:
            footer = self._footer(path)
        except (OSError, ValueError, pa.ArrowException):
            return file.size
        file.schema = footer.schema
        key = (file.size, None if columns is None else frozenset(columns), tuple(filters))
        counted = footer.counted.get(key)
        if counted is None:
            counted = min(file.size, parquet_bytes(footer.metadata, columns, filters))
            if len(footer.counted) >= _COUNTS:
                footer.counted.clear()
            footer.counted[key] = counted
        return counted

    def _footer(self, path: str) -> _Footer:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            stamp = (info.st_size, info.st_mtime_ns, info.st_ino)
            with self._lock:
                found = self._found.get(path)
                if found is not None and found.stamp == stamp:
                    self._found.move_to_end(path)
                    return found
            metadata = pq.read_metadata(handle)
        found = _Footer(stamp, metadata, _schema(metadata))
        with self._lock:
            self._found[path] = found
            self._found.move_to_end(path)
            while len(self._found) > self.keep:
                self._found.popitem(last=False)
        return found


def _schema(metadata: pq.FileMetaData) -> frozenset[tuple[str, str]]:
    """A footer's top-level columns as (name, Arrow type) pairs."""
    return frozenset((f.name, str(f.type)) for f in metadata.schema.to_arrow_schema())


def file_bytes(open_file: Callable[[], Any], file: DataFile, columns: set[str] | None,
               filters: list[Filter] | None = None) -> int:
    """What reading ``columns`` of one Parquet file scans; its whole size if its footer cannot be read.
    Records the file's columns on ``file``."""
    try:
        with open_file() as handle:
            metadata = pq.read_metadata(handle)
    except (OSError, ValueError, pa.ArrowException):
        return file.size
    file.schema = _schema(metadata)
    return min(file.size, parquet_bytes(metadata, columns, filters))


def scanned_bytes(caller: Caller, scan: Scan, paths: list[list[str]], tree: exp.Expr | None,
                  footers: Footers | None = None) -> int:
    """What a scan reads: Parquet column chunks of the columns the statement uses, other files whole.

    ``paths`` are where each file is read (``access.py``): a local path is opened directly (its footer
    kept in ``footers``), a ``lake://`` URI through the lake's filesystem as the caller."""
    parquet = scan.iceberg is not None or scan.ref.table.format == "parquet"
    if not parquet:
        return scan.bytes
    columns = projected(tree, scan.ref)
    filters = row_group_filters(scan.ref)
    fs: Any = None
    total = 0
    for part, part_paths in zip(scan.parts, paths, strict=True):
        for file, path in zip(part.files, part_paths, strict=True):
            if path.startswith("lake://"):
                if fs is None:
                    fs = caller.lake.filesystem(caller.ctx)
                total += file_bytes(functools.partial(fs.open, path, "rb"), file, columns, filters)
            elif footers is not None:
                total += footers.file_bytes(path, file, columns, filters)
            else:
                total += file_bytes(functools.partial(open, path, "rb"), file, columns, filters)
    return total
