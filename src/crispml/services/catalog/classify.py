"""What a Glue crawler sees in the lake: the classifier chain and the folder grouping.

:func:`discover` lists each target prefix once, classifies every visible file
and groups the folders into tables, partitions and the files of each;
:func:`classify_file` is the per-file step on its own. Everything is read
through the fsspec filesystem passed in (``client.fs`` in production, so each
read is an authorized, audited lake operation, on ``file://`` or ``s3://``).

Classification follows Glue's order: the crawler's custom CSV classifiers
first, then the built-ins Parquet (schema from the footer alone: one ranged
read of the tail), JSON lines and CSV (types inferred from the first 1,000
records or 1 MB of the file, whichever comes first; built-in delimiters
``, | \\t ; ^A``; header detection as Glue's heuristic, else ``col0…colN``).
Files whose name or folder starts with ``_`` or ``.`` (``_SUCCESS``,
``.crc``) are skipped as Glue does. Compressed CSV and JSON (gzip, bzip2,
zstd, snappy; known by extension or first bytes, ``core/compression.py``) are
sampled decompressed, and the table records the codec (``compressionType``).
A file no classifier recognises, or one that fails to parse, is reported in
:attr:`CrawlResult.unreadable` with the reason, and the crawl goes on.

Grouping follows Glue's rule that a table's root is the highest folder at or
below a target whose files all share a compatible schema (same classification
and CSV SerDe; column names at least 70 % alike — for CSV, read by position,
one file's columns must also be the first columns of the other's, so a file
with a column added at the end joins the table; types merging by widening,
see ``infer.py``) and sit at
the same depth. Folders below the root are partitions: ``key=value`` levels
give named keys, others ``partition_0…n``. Incompatible folders become
separate tables named after their folders; incompatible files in one folder
become one table each, named after the file.

Deliberately not here: the catalog (no DB reads or writes, no schema-change or
delete policies), crawler state and metrics, and Glue's
other built-in classifiers (Avro, ORC, XML, logs). Those belong to the
crawler service that calls this module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from crispml.core.compression import MAGIC_BYTES, Codec, codec_of, decompressing
from crispml.core.errors import CrispmlError
from crispml.services.catalog.infer import (
    HiveType,
    TypeConflict,
    arrow_type,
    json_type,
    looks_like_header,
    merge,
    row_types,
)

SAMPLE_BYTES = 1024 * 1024
SAMPLE_RECORDS = 1000
SIMILARITY = 0.7  # Glue's partition threshold: share of column names two schemas must have in common
_TAIL_BYTES = 64 * 1024
_MAGIC = b"PAR1"
_BUILTIN_DELIMITERS = (",", "|", "\t", ";", "\x01")

HeaderOption = Literal["PRESENT", "ABSENT", "UNKNOWN"]

#: The SerDe library Glue records for each classification.
SERDE_LIBRARIES = {
    "csv": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
    "json": "org.openx.data.jsonserde.JsonSerDe",
    "parquet": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
}


@dataclass(frozen=True)
class CsvClassifier:
    """A custom CSV classifier (Glue ``CsvClassifier``); tried before the built-ins, in the given order."""

    name: str
    delimiter: str = ","
    quote_symbol: str = '"'
    contains_header: HeaderOption = "UNKNOWN"
    header: tuple[str, ...] = ()
    disable_value_trimming: bool = False
    allow_single_column: bool = False


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class FileSchema:
    """One file as its classifier saw it."""

    path: str
    classification: str
    classifier: str  # the custom classifier's name, or the built-in's classification
    columns: tuple[Column, ...]
    serde_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Partition:
    values: tuple[str, ...]
    location: str
    files: tuple[str, ...]
    new: bool  # not among the known prefixes given to discover()


@dataclass(frozen=True)
class DiscoveredTable:
    name: str
    location: str
    classification: str
    classifier: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    partitions: tuple[Partition, ...]
    files: tuple[str, ...]
    serde_library: str
    serde_parameters: dict[str, str] = field(default_factory=dict)
    #: Glue's ``compressionType``: none, gzip, bzip2, zstd or snappy.
    compression: str = "none"


@dataclass(frozen=True)
class Unreadable:
    path: str
    reason: str


@dataclass(frozen=True)
class CrawlResult:
    tables: tuple[DiscoveredTable, ...]
    unreadable: tuple[Unreadable, ...]
    files_sampled: int
    files_skipped: int  # in known folders, under CRAWL_NEW_FOLDERS_ONLY


class Unclassifiable(ValueError):
    """A file no classifier recognised or that failed to parse; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def table_name(folder: str) -> str:
    """Glue's table name for a folder or file: lower-cased, anything but ``[a-z0-9_]`` → ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", folder.lower()) or "_"


# -- one file -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    classification: str
    classifier: str
    names: tuple[str, ...]
    types: tuple[HiveType, ...]
    serde: tuple[tuple[str, str], ...] = ()
    compression: str = "none"

    def columns(self) -> tuple[Column, ...]:
        return tuple(Column(n, str(t)) for n, t in zip(self.names, self.types, strict=True))


def classify_file(fs: Any, path: str, classifiers: Iterable[CsvClassifier] = (),
                  size: int | None = None) -> FileSchema:
    """Classify one file and infer its schema; raises :class:`Unclassifiable` with the reason."""
    path = fs._strip_protocol(path)
    if size is None:
        size = int(fs.info(path)["size"])
    schema = _classify(fs, path, size, tuple(classifiers))
    return FileSchema(path, schema.classification, schema.classifier, schema.columns(), dict(schema.serde))


def _classify(fs: Any, path: str, size: int, classifiers: tuple[CsvClassifier, ...]) -> _Schema:
    if size == 0:
        raise Unclassifiable(path, "empty file")
    if size <= SAMPLE_BYTES:  # one read serves every classifier
        head = tail = fs.cat_file(path)
    else:
        tail = fs.cat_file(path, start=size - _TAIL_BYTES, end=size)
        head = b"" if tail.endswith(_MAGIC) else fs.cat_file(path, start=0, end=SAMPLE_BYTES)
    # custom classifiers come first, but none of them (CSV) can read a Parquet file
    if tail.endswith(_MAGIC):
        return _parquet(fs, path, size, tail)
    if head.startswith(_MAGIC):
        raise Unclassifiable(path, "starts like Parquet but has no footer (truncated or corrupt)")
    codec = codec_of(path, head[:MAGIC_BYTES])
    if codec is None:
        return _classify_text(path, _decode(path, head, truncated=size > SAMPLE_BYTES), classifiers)
    sample = _decompressed_sample(fs, path, head if size <= SAMPLE_BYTES else None, codec)
    schema = _classify_text(path, _decode(path, sample[:SAMPLE_BYTES], truncated=len(sample) > SAMPLE_BYTES),
                            classifiers)
    return replace(schema, compression=codec)


def _decompressed_sample(fs: Any, path: str, whole: bytes | None, codec: Codec) -> bytes:
    """Up to one byte more than :data:`SAMPLE_BYTES` of a compressed file's content."""
    try:
        if whole is not None:
            with decompressing(io.BytesIO(whole), codec) as stream:
                return bytes(stream.read(SAMPLE_BYTES + 1))
        with fs.open(path, "rb") as raw, decompressing(raw, codec) as stream:
            return bytes(stream.read(SAMPLE_BYTES + 1))
    except (OSError, EOFError, ValueError, pa.ArrowException, CrispmlError) as exc:
        raise Unclassifiable(path, f"{codec} content cannot be decompressed: {exc}") from exc


def _classify_text(path: str, text: str, classifiers: tuple[CsvClassifier, ...]) -> _Schema:
    rejections = []
    for classifier in classifiers:
        found = _csv(text, classifier)
        if isinstance(found, _Schema):
            return found
        rejections.append(f"{classifier.name}: {found}")
    json_found = _json_lines(text)
    if isinstance(json_found, _Schema):
        return json_found
    rejections.append(f"json: {json_found}")
    csv_found = _builtin_csv(text)
    if isinstance(csv_found, _Schema):
        return csv_found
    rejections.append(f"csv: {csv_found}")
    raise Unclassifiable(path, "no classifier recognised it (" + "; ".join(rejections) + ")")


def _parquet(fs: Any, path: str, size: int, tail: bytes) -> _Schema:
    """The schema from the footer alone: ``PAR1`` + footer is all pyarrow needs for the metadata."""
    length = int.from_bytes(tail[-8:-4], "little")
    if length + 12 > size:
        raise Unclassifiable(path, f"corrupt Parquet footer (claims {length} bytes in a {size}-byte file)")
    footer = tail[-(length + 8):] if length + 8 <= len(tail) else fs.cat_file(path, start=size - length - 8, end=size)
    try:
        schema = pq.ParquetFile(pa.BufferReader(_MAGIC + footer)).schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Unclassifiable(path, f"corrupt Parquet footer: {exc}") from exc
    return _Schema("parquet", "parquet", tuple(f.name.lower() for f in schema),
                   tuple(arrow_type(f.type) for f in schema))


def _decode(path: str, data: bytes, *, truncated: bool) -> str:
    if b"\x00" in data:
        raise Unclassifiable(path, "binary content (NUL bytes): not Parquet, JSON or delimited text")
    if truncated:  # a 1 MB sample ends mid-record: keep whole lines only
        data = data[:data.rfind(b"\n") + 1] or data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unclassifiable(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _json_lines(text: str) -> _Schema | str:
    record_type = HiveType("struct")
    count = 0
    for number, line in enumerate(_nonblank(text.splitlines()), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"line {number} is not JSON ({exc.msg})"
        if not isinstance(record, dict):
            return f"line {number} is not a JSON object"
        record_type = merge(record_type, json_type({k.lower(): v for k, v in record.items()}), lenient=True)
        count += 1
        if count >= SAMPLE_RECORDS:
            break
    if not count:
        return "no records"
    return _Schema("json", "json", record_type.fields, record_type.args)


def _nonblank(lines: Iterable[str]) -> Iterator[str]:
    return (line for line in (raw.strip() for raw in lines) if line)


def _builtin_csv(text: str) -> _Schema | str:
    reasons = []
    for delimiter in _BUILTIN_DELIMITERS:
        found = _csv(text, CsvClassifier(name="csv", delimiter=delimiter), builtin=True)
        if isinstance(found, _Schema):
            return found
        reasons.append(f"{delimiter!r}: {found}")
    return ", ".join(reasons)


def _csv(text: str, options: CsvClassifier, *, builtin: bool = False) -> _Schema | str:
    rows = _csv_rows(text, options)
    if isinstance(rows, str):
        return rows
    if len(rows) < (2 if builtin else 1):
        return "fewer than two rows"
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        return f"rows have {min(widths)} to {max(widths)} fields"
    width = widths.pop()
    if width < 2 and not options.allow_single_column:
        return "a single column (a custom classifier with AllowSingleColumn reads it)"
    if options.contains_header == "UNKNOWN":
        has_header = looks_like_header(rows[0], rows[1:])
    else:
        has_header = options.contains_header == "PRESENT"
    data = rows[1:] if has_header else rows
    if options.header:
        if len(options.header) != width:
            return f"the classifier's Header names {len(options.header)} columns, the rows have {width}"
        names = list(options.header)
    elif has_header:
        names = [cell or f"col{i}" for i, cell in enumerate(rows[0])]
    else:
        names = [f"col{i}" for i in range(width)]
    serde = {"separatorChar": options.delimiter, "quoteChar": options.quote_symbol}
    if has_header:
        serde["skip.header.line.count"] = "1"
    classifier = "csv" if builtin else options.name
    return _Schema("csv", classifier, _column_names(names), tuple(row_types(data)), tuple(sorted(serde.items())))


def _csv_rows(text: str, options: CsvClassifier) -> list[list[str]] | str:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter,
                        quotechar=options.quote_symbol, strict=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if not row or row == [""]:
                continue
            rows.append(row if options.disable_value_trimming else [cell.strip() for cell in row])
            if len(rows) >= SAMPLE_RECORDS:
                break
    except csv.Error as exc:
        return f"unparseable at line {reader.line_num} ({exc})"
    return rows


def _column_names(raw: Iterable[str]) -> tuple[str, ...]:
    """CSV column names as SQL can use them (CSV is read by position, so renaming is safe); duplicates numbered."""
    names: list[str] = []
    for name in raw:
        clean = table_name(name.strip())
        candidate, n = clean, 1
        while candidate in names:
            n += 1
            candidate = f"{clean}_{n}"
        names.append(candidate)
    return tuple(names)


def _merge_schemas(a: _Schema | None, b: _Schema | None) -> _Schema | None:
    """The schema of both, or None when they are incompatible; a None input (unsampled) merges with anything."""
    if a is None or b is None:
        return a or b
    if a.classification != b.classification or a.serde != b.serde:
        return None
    if a.classification == "csv" and a.names[:len(b.names)] != b.names[:len(a.names)]:
        return None  # read by position: one file's columns must lead the other's
    names_a, names_b = set(a.names), set(b.names)
    if len(names_a & names_b) < SIMILARITY * len(names_a | names_b):
        return None
    types = dict(zip(a.names, a.types, strict=True))
    lenient = a.classification != "parquet"
    try:
        for name, t in zip(b.names, b.types, strict=True):
            types[name] = merge(types[name], t, lenient=lenient) if name in types else t
    except TypeConflict:
        return None
    classifier = a.classifier if a.classifier == b.classifier else a.classification
    compression = a.compression if a.compression != "none" else b.compression
    return _Schema(a.classification, classifier, tuple(types), tuple(types.values()), a.serde, compression)


_INCOMPATIBLE = _Schema("", "", (), ())  # the merge of schemas that do not merge


def _merge_all(schemas: Iterable[_Schema | None]) -> _Schema | None:
    merged: _Schema | None = None
    for schema in schemas:
        if schema is _INCOMPATIBLE:
            return _INCOMPATIBLE
        merged = _merge_schemas(merged, schema)
        if merged is None and schema is not None:
            return _INCOMPATIBLE
    return merged


# -- folders into tables ------------------------------------------------------------


@dataclass
class _File:
    path: str
    schema: _Schema | None  # None: in a known folder, not sampled


@dataclass
class _Node:
    location: str  # ends with '/'
    files: list[_File] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)
    fixed: bool = False  # an existing table's root (CRAWL_NEW_FOLDERS_ONLY): nothing above it groups it
    schema: _Schema | None = None  # of the whole subtree; _INCOMPATIBLE if it does not merge
    depths: frozenset[int] = frozenset()  # of the files below, relative to this folder
    holds_fixed: bool = False  # a fixed node strictly below

    def child(self, name: str) -> _Node:
        if name not in self.children:
            self.children[name] = _Node(f"{self.location}{name}/")
        return self.children[name]

    def summarize(self) -> None:
        """Fill schema, depths and holds_fixed bottom-up."""
        for node in self.children.values():
            node.summarize()
        self.schema = _merge_all([f.schema for f in self.files] + [c.schema for c in self.children.values()])
        self.depths = frozenset(({0} if self.files else set()) |
                                {d + 1 for c in self.children.values() for d in c.depths})
        self.holds_fixed = any(c.fixed or c.holds_fixed for c in self.children.values())

    def leaves(self, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], _Node]]:
        if self.files:
            yield parts, self
        for name, node in sorted(self.children.items()):
            yield from node.leaves((*parts, name))

    def all_files(self) -> list[_File]:
        return [f for _, node in self.leaves() for f in node.files]


def discover(fs: Any, targets: Iterable[str], classifiers: Iterable[CsvClassifier] = (),
             known_prefixes: Iterable[str] = (), *, new_folders_only: bool = False) -> CrawlResult:
    """Crawl ``targets`` (folder prefixes) once: classify files and group them into tables and partitions.

    ``known_prefixes`` are the table and partition locations already in the
    catalog; partitions outside them come back with ``new=True``. With
    ``new_folders_only`` (Glue's ``CRAWL_NEW_FOLDERS_ONLY``) files directly in
    a known folder are not read, a known table root is never grouped into a
    folder above it, and only tables with at least one sampled file are returned.
    """
    known = {_folder(fs, p) for p in known_prefixes}
    chain = tuple(classifiers)
    tables: list[DiscoveredTable] = []
    unreadable: list[Unreadable] = []
    counts = {"sampled": 0, "skipped": 0}
    for target in targets:
        root = _Node(_folder(fs, target))
        try:
            listing = fs.find(root.location, detail=True)
        except (OSError, CrispmlError) as exc:
            unreadable.append(Unreadable(root.location, f"target not readable: {exc}"))
            continue
        for path, info in sorted(listing.items()):
            _add_file(fs, root, path, info, chain, known, new_folders_only, unreadable, counts)
        if new_folders_only:
            _mark_fixed(root, known)
        root.summarize()
        tables += _tables(root, _basename(root.location), known)
    return CrawlResult(tuple(_unique_names(tables)), tuple(unreadable), counts["sampled"], counts["skipped"])


def _add_file(fs: Any, root: _Node, path: str, info: dict[str, Any], chain: tuple[CsvClassifier, ...],
              known: set[str], new_folders_only: bool, unreadable: list[Unreadable], counts: dict[str, int]) -> None:
    path = fs._strip_protocol(path)
    if info.get("type") != "file" or not path.startswith(root.location):
        return
    *folders, _ = parts = path[len(root.location):].split("/")
    if any(part.startswith(("_", ".")) for part in parts):
        return  # Hadoop/Glue convention: _SUCCESS, _temporary/, .crc are not data
    node = root
    for name in folders:
        node = node.child(name)
    if new_folders_only and node.location in known:
        counts["skipped"] += 1
        node.files.append(_File(path, None))
        return
    try:
        schema = _classify(fs, path, int(info.get("size") or 0), chain)
    except Unclassifiable as exc:
        unreadable.append(Unreadable(path, exc.reason))
        return
    except (OSError, CrispmlError) as exc:  # vanished or denied between listing and reading: record, go on
        unreadable.append(Unreadable(path, f"could not be read: {exc}"))
        return
    counts["sampled"] += 1
    node.files.append(_File(path, schema))


def _mark_fixed(node: _Node, known: set[str]) -> None:
    """Mark the topmost known folders (existing tables' roots) and stop there."""
    if node.location in known:
        node.fixed = True
        return
    for child in node.children.values():
        _mark_fixed(child, known)


def _tables(node: _Node, name: str, known: set[str]) -> list[DiscoveredTable]:
    if node.schema is None:
        return []  # nothing sampled below: nothing new to say
    if node.schema is not _INCOMPATIBLE and len(node.depths) == 1 and not node.holds_fixed:
        return [_table(node, name, node.schema, known)]
    found: list[DiscoveredTable] = []
    if node.files:
        merged = _merge_all(f.schema for f in node.files)
        if merged is _INCOMPATIBLE:  # files that share nothing: a table each, named after the file
            for f in node.files:
                if f.schema is not None:
                    single = _Node(node.location, [f])
                    found.append(_table(single, _basename(f.path), f.schema, known, location=f.path))
        elif merged is not None:
            found.append(_table(_Node(node.location, node.files), name, merged, known))
    for child_name, child in sorted(node.children.items()):
        found += _tables(child, child_name, known)
    return found


def _table(node: _Node, name: str, schema: _Schema, known: set[str], location: str | None = None) -> DiscoveredTable:
    leaves = list(node.leaves())
    depth = len(leaves[0][0]) if leaves else 0
    keys: list[str] = []
    hive: list[bool] = []
    for level in range(depth):
        folders = [parts[level] for parts, _ in leaves]
        heads = {f.split("=", 1)[0] for f in folders if "=" in f}
        hive.append(len(heads) == 1 and all("=" in f for f in folders))
        keys.append(table_name(heads.pop()) if hive[-1] else f"partition_{level}")
    partitions = tuple(
        Partition(
            values=tuple(unquote(part.split("=", 1)[1]) if named else part
                         for part, named in zip(parts, hive, strict=True)),
            location=leaf.location, files=tuple(f.path for f in leaf.files), new=leaf.location not in known,
        )
        for parts, leaf in leaves
    ) if depth else ()
    return DiscoveredTable(
        name=table_name(name), location=location or node.location, classification=schema.classification,
        classifier=schema.classifier, columns=schema.columns(),
        partition_keys=tuple(Column(k, "string") for k in keys), partitions=partitions,
        files=tuple(f.path for f in node.all_files()), serde_library=SERDE_LIBRARIES[schema.classification],
        serde_parameters=dict(schema.serde), compression=schema.compression,
    )


def _folder(fs: Any, path: str) -> str:
    """A prefix in the filesystem's own form (protocol stripped), ending with '/'."""
    return str(fs._strip_protocol(path)).rstrip("/") + "/"


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _unique_names(tables: list[DiscoveredTable]) -> Iterator[DiscoveredTable]:
    """Glue's answer to two folders with one name: the later table's name gets a hash of its location."""
    seen: set[str] = set()
    for table in tables:
        if table.name in seen:
            suffix = hashlib.sha1(table.location.encode()).hexdigest()[:8]
            table = replace(table, name=f"{table.name}_{suffix}")
        seen.add(table.name)
        yield table
