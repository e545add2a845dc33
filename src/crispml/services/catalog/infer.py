"""Hive column types for a crawler: inferred from text values and JSON records,
mapped from Arrow (Parquet) schemas, and merged across records and files.

A type is a small tree (:class:`HiveType`) rendered as the string Glue stores
(``bigint``, ``decimal(10,2)``, ``array<struct<a:string>>``). :data:`UNKNOWN` stands
for "no value decided it yet" (an empty CSV field, a JSON ``null``, an empty
list) and renders as ``string`` when nothing else ever decides.

Merging follows Glue's widening. For types inferred from a text sample
(CSV, JSON) a conflict widens to ``string``, since a sample only hints at the
column. For types read from a Parquet footer a conflict is real —
``int`` in one file and ``string`` in another cannot be read as one column — so
:func:`merge` raises :class:`TypeConflict` unless the types widen numerically
(``int`` → ``bigint`` → ``double``) or structurally (struct fields are unioned).

Deliberately not here: reading files, the Hive type grammar's less common
forms (``char(n)``, ``varchar(n)``, ``uniontype``), timezone handling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from crispml.core.hive import NULL_TOKENS

_INTEGRAL = ("tinyint", "smallint", "int", "bigint")
_FLOATING = ("float", "double")
_INT64 = 2**63


class TypeConflict(ValueError):
    """Two types that no widening reconciles (Parquet ``int`` vs ``string``)."""


@dataclass(frozen=True)
class HiveType:
    """A Hive type: a primitive name, or ``array``/``map``/``struct`` with children."""

    kind: str
    args: tuple[HiveType, ...] = ()
    fields: tuple[str, ...] = ()  # struct field names, parallel to args

    def __str__(self) -> str:
        if self.kind == "unknown":
            return "string"
        if self.kind == "struct":
            return "struct<" + ",".join(f"{n}:{t}" for n, t in zip(self.fields, self.args, strict=True)) + ">"
        if self.kind in ("array", "map"):
            return f"{self.kind}<" + ",".join(str(a) for a in self.args) + ">"
        return self.kind


UNKNOWN = HiveType("unknown")
STRING = HiveType("string")
BIGINT = HiveType("bigint")
DOUBLE = HiveType("double")
BOOLEAN = HiveType("boolean")
DATE = HiveType("date")
TIMESTAMP = HiveType("timestamp")

# -- text values (CSV fields) -------------------------------------------------

_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?")


#: Field texts that mean "missing" in files written by R, pandas, Hive and databases; like an
#: empty field they do not decide a column's type (a numeric column with "NA" stays numeric).


def text_type(value: str) -> HiveType:
    """The type one CSV field suggests: empty or a null token → UNKNOWN, then boolean, bigint, double,
    date, timestamp, string."""
    if value == "" or value in NULL_TOKENS:
        return UNKNOWN
    if value.lower() in ("true", "false"):
        return BOOLEAN
    if _INT_TEXT.fullmatch(value):
        return BIGINT if -_INT64 <= int(value) < _INT64 else DOUBLE
    if _FLOAT_TEXT.fullmatch(value):
        return DOUBLE
    if _DATE_TEXT.fullmatch(value):
        return DATE if _parses(date.fromisoformat, value) else STRING
    if _TIMESTAMP_TEXT.fullmatch(value):
        # datetime.fromisoformat wants at most 6 fractional digits; the value's shape is what matters
        trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value)
        return TIMESTAMP if _parses(datetime.fromisoformat, trimmed) else STRING
    return STRING


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


# -- JSON values ----------------------------------------------------------------

def json_type(value: Any) -> HiveType:
    """The type of one decoded JSON value; objects become structs, lists arrays (elements merged)."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT if -_INT64 <= value < _INT64 else DOUBLE
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        element = UNKNOWN
        for item in value:
            element = merge(element, json_type(item), lenient=True)
        return HiveType("array", (element,))
    if isinstance(value, dict):
        return HiveType("struct", tuple(json_type(v) for v in value.values()), tuple(value))
    return STRING


# -- Arrow (Parquet footers) ----------------------------------------------------

def arrow_type(t: pa.DataType) -> HiveType:
    """The Hive type Glue records for an Arrow type read from a Parquet footer."""
    simple = (
        (pa.types.is_boolean, "boolean"), (pa.types.is_int8, "tinyint"), (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"), (pa.types.is_int64, "bigint"), (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"), (pa.types.is_uint32, "bigint"), (pa.types.is_uint64, "bigint"),
        (pa.types.is_float16, "float"), (pa.types.is_float32, "float"), (pa.types.is_float64, "double"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"),
        (pa.types.is_binary, "binary"), (pa.types.is_large_binary, "binary"),
        (pa.types.is_fixed_size_binary, "binary"), (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    )
    for test, name in simple:
        if test(t):
            return HiveType(name)
    if pa.types.is_decimal(t):
        return HiveType(f"decimal({t.precision},{t.scale})")
    if pa.types.is_dictionary(t):
        return arrow_type(t.value_type)
    if pa.types.is_map(t):
        return HiveType("map", (arrow_type(t.key_type), arrow_type(t.item_type)))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return HiveType("array", (arrow_type(t.value_type),))
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        return HiveType("struct", tuple(arrow_type(f.type) for f in fields), tuple(f.name for f in fields))
    # time-of-day, durations, intervals, null: Hive has no such type; Glue records them as strings
    return STRING


# -- merging ----------------------------------------------------------------------

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


def merge(a: HiveType, b: HiveType, *, lenient: bool) -> HiveType:
    """The narrowest type holding both ``a`` and ``b`` (Glue's widening).

    ``lenient`` (text samples): anything irreconcilable becomes ``string``.
    Strict (Parquet footers): raises :class:`TypeConflict` instead.
    """
    if a == b or b == UNKNOWN:
        return a
    if a == UNKNOWN:
        return b
    widened = _widen_numeric(a.kind, b.kind) or _widen_temporal(a.kind, b.kind)
    if widened is not None:
        return HiveType(widened)
    if a.kind == b.kind == "struct":
        return _merge_structs(a, b, lenient=lenient)
    if a.kind == b.kind and a.kind in ("array", "map"):
        return HiveType(a.kind, tuple(merge(x, y, lenient=lenient) for x, y in zip(a.args, b.args, strict=True)))
    if lenient:
        return STRING
    raise TypeConflict(f"{a} vs {b}")


def _merge_structs(a: HiveType, b: HiveType, *, lenient: bool) -> HiveType:
    fields = dict(zip(a.fields, a.args, strict=True))
    for name, t in zip(b.fields, b.args, strict=True):
        fields[name] = merge(fields[name], t, lenient=lenient) if name in fields else t
    return HiveType("struct", tuple(fields.values()), tuple(fields))


def _widen_numeric(a: str, b: str) -> str | None:
    da, db = _DECIMAL.fullmatch(a), _DECIMAL.fullmatch(b)
    if da and db:
        scale = max(int(da[2]), int(db[2]))
        digits = max(int(da[1]) - int(da[2]), int(db[1]) - int(db[2]))
        return f"decimal({min(38, digits + scale)},{scale})"
    numeric = _INTEGRAL + _FLOATING
    if (da or a in numeric) and (db or b in numeric):
        if a in _INTEGRAL and b in _INTEGRAL:
            return max(a, b, key=_INTEGRAL.index)
        return "double"  # mixing integers, decimals and floats: Hive's common numeric type
    return None


def _widen_temporal(a: str, b: str) -> str | None:
    return "timestamp" if {a, b} == {"date", "timestamp"} else None


# -- CSV rows ----------------------------------------------------------------------

_MAX_HEADER_CELL = 150  # Glue: a header cell (but the last) is shorter than 150 characters


def row_types(rows: list[list[str]]) -> list[HiveType]:
    """Per-column types of CSV data rows, widened leniently; empty fields don't decide."""
    types = [UNKNOWN] * (len(rows[0]) if rows else 0)
    for row in rows:
        types = [merge(t, text_type(v), lenient=True) for t, v in zip(types, row, strict=True)]
    return types


def looks_like_header(first: list[str], rest: list[list[str]]) -> bool:
    """Glue's built-in header heuristic for ``ContainsHeader=UNKNOWN``.

    Every cell of the candidate row parses as a (non-empty) string, cells but
    the last are under 150 characters, and the row is "sufficiently different"
    from the data: at least one data column has a type other than string. A
    file of strings only therefore has no header (its columns are col0…colN).
    """
    if not rest or len(set(first)) != len(first):
        return False
    if any(text_type(cell) != STRING for cell in first):
        return False
    if any(len(cell) >= _MAX_HEADER_CELL for cell in first[:-1]):
        return False
    return any(t not in (STRING, UNKNOWN) for t in row_types(rest))
