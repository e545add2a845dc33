"""Type names across the three vocabularies the engine speaks.

- Catalog columns carry Hive types (``bigint``, ``array<struct<a:string>>``);
  DuckDB reads them as its own types (:func:`duckdb_type`, through sqlglot's
  Hive parser, which knows the nested grammar).
- Result columns are described with Athena's (Trino's) names (``varchar``,
  ``integer``, ``array(row(a varchar))``): :func:`athena_column`.
- A CTAS registers Hive types for what DuckDB computed: :func:`hive_type`, and
  :func:`storable` is the DuckDB type actually written so that the files and
  the catalog agree (a ``HUGEINT`` is written as ``DECIMAL(38,0)``).

The DuckDB → Athena/Hive direction walks DuckDB's type objects by hand:
sqlglot renders DuckDB-only types (``HUGEINT``, unsigned integers, ``UUID``)
unchanged, which neither Athena nor Hive would understand.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlglot
from sqlglot import exp

import duckdb
from crispml.core.errors import InvalidArgument
from crispml.services.query.engines.base import ColumnInfo

_TEXT = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR, exp.DataType.Type.NVARCHAR,
         exp.DataType.Type.TEXT}

#: DuckDB type id → (Athena name, Hive name) for types without parameters.
_SIMPLE: dict[str, tuple[str, str]] = {
    "boolean": ("boolean", "boolean"),
    "tinyint": ("tinyint", "tinyint"),
    "smallint": ("smallint", "smallint"),
    "integer": ("integer", "int"),
    "bigint": ("bigint", "bigint"),
    "utinyint": ("smallint", "smallint"),
    "usmallint": ("integer", "int"),
    "uinteger": ("bigint", "bigint"),
    "float": ("real", "float"),
    "double": ("double", "double"),
    "varchar": ("varchar", "string"),
    "blob": ("varbinary", "binary"),
    "date": ("date", "date"),
    "timestamp": ("timestamp", "timestamp"),
    "timestamp_s": ("timestamp", "timestamp"),
    "timestamp_ms": ("timestamp", "timestamp"),
    "timestamp_ns": ("timestamp", "timestamp"),
    "timestamp with time zone": ("timestamp with time zone", "timestamp"),
    "time": ("time", "string"),
    "time with time zone": ("time with time zone", "string"),
    "interval": ("interval day to second", "string"),
    "uuid": ("uuid", "string"),
    "bit": ("varchar", "string"),
}
#: Integers wider than bigint, as Athena and Hive can hold them.
_WIDE = {"hugeint": (38, 0), "uhugeint": (38, 0), "ubigint": (20, 0), "varint": (38, 0)}
#: Hive types DuckDB stores differently from what Hive means, written as the Hive type's DuckDB twin.
_STORE_AS = {"time": "VARCHAR", "time with time zone": "VARCHAR", "interval": "VARCHAR", "uuid": "VARCHAR",
             "bit": "VARCHAR", "timestamp with time zone": "TIMESTAMP", "timestamp_s": "TIMESTAMP",
             "timestamp_ms": "TIMESTAMP", "timestamp_ns": "TIMESTAMP", "utinyint": "SMALLINT",
             "usmallint": "INTEGER", "uinteger": "BIGINT"}


@functools.lru_cache(maxsize=1024)
def duckdb_type(hive: str) -> str:
    """The DuckDB type that reads a Hive column type (``array<string>`` → ``VARCHAR[]``); remembered, as every
    statement asks again for its tables' column types (parsing one costs ~50 µs)."""
    try:
        parsed = exp.DataType.build(hive, dialect="hive")
    except (sqlglot.errors.ParseError, ValueError) as exc:
        raise InvalidArgument(f"catalog column type {hive!r} is not a Hive type DuckDB can read: {exc}") from exc
    for node in parsed.find_all(exp.DataType):
        if node.this in _TEXT:  # varchar(10), char(3): DuckDB's VARCHAR has no length
            node.set("this", exp.DataType.Type.VARCHAR)
            node.set("expressions", [])
    return parsed.sql("duckdb")


def _walk(t: Any, hive: bool) -> str:
    kind = str(t.id)
    if kind in _SIMPLE:
        return _SIMPLE[kind][1 if hive else 0]
    if kind == "decimal":
        children = dict(t.children)
        return f"decimal({children['precision']},{children['scale']})"
    if kind in _WIDE:
        precision, scale = _WIDE[kind]
        return f"decimal({precision},{scale})"
    if kind in ("list", "array"):
        element = _walk(dict(t.children)["child"], hive)
        return f"array<{element}>" if hive else f"array({element})"
    if kind == "map":
        children = dict(t.children)
        key, value = _walk(children["key"], hive), _walk(children["value"], hive)
        return f"map<{key},{value}>" if hive else f"map({key}, {value})"
    if kind == "struct":
        fields = [(name, _walk(child, hive)) for name, child in t.children]
        if hive:
            return "struct<" + ",".join(f"{n}:{v}" for n, v in fields) + ">"
        return "row(" + ", ".join(f"{n} {v}" for n, v in fields) + ")"
    if kind == "null":
        return "string" if hive else "unknown"
    return "string" if hive else "varchar"


def athena_type(t: Any) -> str:
    """Athena's name for a DuckDB type object (``DuckDBPyType``)."""
    return _walk(t, hive=False)


def hive_type(t: Any) -> str:
    """The Hive column type a CTAS registers for a DuckDB type object."""
    return _walk(t, hive=True)


def storable(t: Any) -> str | None:
    """The DuckDB type to cast a column to before writing it, or None if it is written as it is."""
    kind = str(t.id)
    if kind in _WIDE:
        precision, scale = _WIDE[kind]
        return f"DECIMAL({precision},{scale})"
    if kind in _STORE_AS:
        return _STORE_AS[kind]
    if kind in ("list", "array", "map", "struct", "null"):
        rendered = duckdb_type(hive_type(t))
        return rendered if rendered != str(t) else None
    return None


#: DuckDB result types Athena would give as bigint: DuckDB sums integers into HUGEINT, Trino into bigint.
_AS_BIGINT = ("hugeint", "uhugeint", "ubigint")


def athena_relation(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[duckdb.DuckDBPyRelation, str]:
    """``sql`` as a relation whose output columns have the types Athena gives them (``sum(bigint)`` is a
    bigint, overflowing as Trino's does, not a 128-bit integer), and the SQL of that relation."""
    relation = con.sql(sql)
    if not any(str(t.id) in _AS_BIGINT for t in relation.types):
        return relation, sql
    projection = ", ".join(
        f'CAST("{n.replace(chr(34), chr(34) * 2)}" AS BIGINT) AS "{n.replace(chr(34), chr(34) * 2)}"'
        if str(t.id) in _AS_BIGINT else f'"{n.replace(chr(34), chr(34) * 2)}"'
        for n, t in zip(relation.columns, relation.types, strict=True))
    shaped = f"SELECT {projection} FROM ({sql})"
    return con.sql(shaped), shaped


def athena_column(name: str, t: Any) -> ColumnInfo:
    """A result column as Athena describes it (name, type, precision, scale)."""
    kind = str(t.id)
    precision = scale = 0
    if kind == "decimal":
        children = dict(t.children)
        precision, scale = int(children["precision"]), int(children["scale"])
    elif kind in _WIDE:
        precision, scale = _WIDE[kind]
    elif kind == "varchar":
        precision = 2147483647
    return ColumnInfo(name=name, type=athena_type(t), nullable="UNKNOWN", precision=precision, scale=scale)
