"""DuckDB SQL that reads one table's files as the catalog describes them (schema-on-read).

- Parquet: columns by name across files (``union_by_name``: a file written
  before a column was added reads it as NULL, as Athena and the Iceberg reader
  do; files whose footers showed one schema need no reconciling), cast to
  the catalog's types (DuckDB drops a cast to the type a column already has,
  so filters still reach the row groups).
- CSV: every field read as text with the SerDe's delimiter, quote, escape and
  header lines, then ``TRY_CAST`` to the catalog's type — an unparseable field
  is NULL, as Hive's text SerDes read it. Only the empty field and ``\\N``
  are NULL (the SerDe's null format): ``NA``, ``None`` or ``null`` in a string
  column are strings, as Athena keeps them. An integer column reads only
  integer texts: ``3.5`` is NULL, never rounded to ``4``. Quoted fields may
  hold line breaks (DuckDB's parallel scanner cannot read those with null
  padding, so each file is scanned by one thread). Fields are matched by position; missing trailing fields
  are NULL.
- JSON lines: keys matched to catalog columns case-insensitively (Hive's JSON
  SerDe does; DuckDB's reader is case-sensitive, so the real key spelling is
  learned from a sample first). Integer columns are read as text and checked
  as for CSV: ``3.5`` is NULL, not ``4``.

Partition key columns are added as constants per partition, and partitions
are combined with ``UNION ALL``: the lake stores files at opaque blob paths,
so DuckDB's ``hive_partitioning`` has no ``key=value`` folders to read them
from. Deliberately not here: which files to read (``scan.py``) and how they
are reached (``access.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
from crispml.services.query.engines.duckdb.resolve import Column
from crispml.services.query.engines.duckdb.types import duckdb_type

#: Field texts read as NULL in CSV tables: the empty field and Hive's ``serialization.null.format``.
CSV_NULLS = ("", "\\N")
#: DuckDB's integer types: their casts from text round ``3.5`` to ``4``, so a field is checked first.
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT")
#: An integer as Hive's LazyInteger/LazyLong read it (surrounding blanks aside).
_INTEGER_TEXT = r"\s*[+-]?[0-9]+\s*"
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING")
#: The partition value Hive (and DuckDB's partitioned writes) use for NULL.
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def path_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(quote_str(p) for p in paths) + "]"


def _struct(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{quote_str(k)}: {quote_str(v)}" for k, v in pairs) + "}"


def constant(value: str | None, hive: str) -> str:
    """A partition value as a typed DuckDB constant (a value that does not parse is NULL)."""
    if value is None or value == HIVE_DEFAULT_PARTITION:
        return f"CAST(NULL AS {duckdb_type(hive)})"
    target = duckdb_type(hive)
    if target.upper() in _TEXT_TYPES:
        return quote_str(value)
    return f"TRY_CAST({quote_str(value)} AS {target})"


def hive_options(keys: Sequence[Column] | None) -> str:
    """Reader arguments: partition keys from ``key=value`` folders of the paths, typed as the catalog says."""
    if not keys:
        return "hive_partitioning=false"
    return f"hive_partitioning=true, hive_types={_struct([(k.name, duckdb_type(k.hive_type)) for k in keys])}"


def _key_projection(keys: Sequence[Column] | None) -> str:
    return "".join(f", {quote_ident(k.name)}" for k in keys or [])


def read_parquet(paths: Sequence[str], columns: Sequence[Column], keys: Sequence[Column] | None = None,
                 present: set[str] | None = None, *, one_schema: bool = False) -> str:
    """Parquet files; ``keys`` are read from the paths' ``key=value`` folders. A catalog column that none of
    the files holds (``present``: their lower-case column names, if known) is NULL. Files known to share
    ``one_schema`` (the same column names and types) are read as the first one says, without DuckDB opening
    every file to reconcile their columns by name before it starts (``union_by_name``)."""
    projection = ", ".join(
        f"CAST({quote_ident(c.name) if present is None or c.name.lower() in present else 'NULL'} "
        f"AS {duckdb_type(c.hive_type)}) AS {quote_ident(c.name)}" for c in columns)
    return (f"SELECT {projection}{_key_projection(keys)} FROM read_parquet({path_list(paths)}, "
            f"union_by_name={'false' if one_schema else 'true'}, {hive_options(keys)})")


def read_csv(paths: Sequence[str], columns: Sequence[Column], options: dict[str, str],
             keys: Sequence[Column] | None = None) -> str:
    """CSV files read as text, then cast; ``keys`` are read from the paths' ``key=value`` folders."""
    text = [(c.name, "VARCHAR") for c in columns]
    extra = f", escape={quote_str(options['escape'])}" if options.get("escape") else ""
    source = (f"read_csv({path_list(paths)}, columns={_struct(text)}, header=false, auto_detect=false, "
              f"skip={int(options['skip'])}, delim={quote_str(options['delim'])}, quote={quote_str(options['quote'])}"
              f"{extra}, nullstr={path_list(CSV_NULLS)}, null_padding=true, parallel=false, strict_mode=false, "
              f"{hive_options(keys)})")
    projection = ", ".join(_from_text(c) for c in columns)
    return f"SELECT {projection}{_key_projection(keys)} FROM {source}"


def _from_text(column: Column) -> str:
    target = duckdb_type(column.hive_type)
    name = quote_ident(column.name)
    if target.upper() in _TEXT_TYPES:
        return name
    # NULLIF changes nothing (empty fields are NULL already) but keeps DuckDB's type_pushdown from turning
    # the TRY_CAST into a strict cast inside the CSV reader, which fails on one unparseable field.
    if target.upper() in _INTEGER_TYPES:
        return f"{_integer(name, target)} AS {name}"
    return f"TRY_CAST(NULLIF({name}, '') AS {target}) AS {name}"


def _integer(text: str, target: str) -> str:
    """An integer column from its text: '3.5' is not an integer, so NULL (as Hive reads it), never 4."""
    return (f"CASE WHEN regexp_full_match({text}, {quote_str(_INTEGER_TEXT)}) "
            f"THEN TRY_CAST(NULLIF({text}, '') AS {target}) END")


def json_keys(con: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> list[str]:
    """The keys JSON records spell (as written), from DuckDB's sample of the files."""
    rel = con.sql(f"SELECT * FROM read_json({path_list(paths)}, format='newline_delimited', "
                  "maximum_sample_files=8, sample_size=1000, hive_partitioning=false) LIMIT 0")
    return list(rel.columns)


def read_json(paths: Sequence[str], columns: Sequence[Column], spelled: Sequence[str],
              keys: Sequence[Column] | None = None) -> str:
    """JSON lines, keys matched case-insensitively; ``keys`` are read from the paths' ``key=value`` folders."""
    by_lower = {k.lower(): k for k in spelled}
    # integer columns are read as text and checked: DuckDB's JSON reader rounds 3.5 into a BIGINT as 4
    wanted = [(by_lower.get(c.name.lower(), c.name),
               "VARCHAR" if duckdb_type(c.hive_type).upper() in _INTEGER_TYPES else duckdb_type(c.hive_type))
              for c in columns]
    projection = ", ".join(
        (_integer(quote_ident(key), duckdb_type(c.hive_type)) if kind == "VARCHAR" and duckdb_type(c.hive_type)
         .upper() in _INTEGER_TYPES else quote_ident(key)) + f" AS {quote_ident(c.name)}"
        for (key, kind), c in zip(wanted, columns, strict=True))
    return (f"SELECT {projection}{_key_projection(keys)} FROM read_json({path_list(paths)}, "
            f"format='newline_delimited', columns={_struct(wanted)}, {hive_options(keys)})")


def with_keys(select: str, keys: Sequence[Column], values: Sequence[str | None]) -> str:
    """A part's SELECT with its partition key columns appended as constants."""
    if not keys:
        return select
    added = ", ".join(f"{constant(v, k.hive_type)} AS {quote_ident(k.name)}" for k, v in zip(keys, values,
                                                                                             strict=True))
    return f"SELECT *, {added} FROM ({select})"


def empty(columns: Sequence[Column]) -> str:
    """No rows, with the table's columns and types (a partitioned table with no partitions left)."""
    projection = ", ".join(f"CAST(NULL AS {duckdb_type(c.hive_type)}) AS {quote_ident(c.name)}" for c in columns)
    return f"SELECT {projection} WHERE false"
