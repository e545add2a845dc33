"""Record format conversion: JSON records to rows of a catalog table's schema, and those rows to Parquet.

A table's Glue columns carry Hive types; sqlglot's Hive dialect parses them
(nested ``array<…>``, ``map<…,…>``, ``struct<…>`` included) and
:func:`arrow_type` maps each to Arrow: ``tinyint`` int8, ``smallint`` int16,
``int`` int32, ``bigint`` int64, ``float``/``double``, ``decimal(p,s)``,
``boolean``, ``string``/``varchar``/``char``, ``binary``, ``date``,
``timestamp`` (microseconds; times with an offset are converted to UTC).

Each record must be one JSON object (as Firehose's OpenX JSON SerDe reads it):
keys match columns case-insensitively unless ``CaseInsensitive`` is false,
missing keys and ``null`` give nulls, extra keys are ignored. Values convert
as the SerDe converts them — a number or a numeric string into a number column
(an integer column refuses fractions and values out of its range), ``true``/
``false`` into a boolean, any scalar into a string column (objects and arrays as
their JSON text), ``YYYY-MM-DD`` into a date, an ISO 8601 text or epoch seconds
(or milliseconds, above 10^11) into a timestamp, a string's UTF-8 bytes into a
binary column, lists and objects into arrays, maps and structs. Anything else —
not JSON, not an object, ``"abc"`` for a ``bigint`` — fails that record alone,
with a reason naming the field; the rest of the batch converts. The
value-by-value checks are written here because pyarrow's converters stop at a
batch's first bad value without saying which record held it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot.dialects.hive  # noqa: F401  # loaded whole: sqlglot's lazy load of a dialect is not thread-safe
from sqlglot import exp
from sqlglot.errors import ParseError

from crispml.services.firehose.config import ParquetCompression
from crispml.services.firehose.errors import InvalidArgumentException

Coerce = Callable[[Any, str], Any]
_T = exp.DataType.Type
_INTS = {_T.TINYINT: pa.int8(), _T.SMALLINT: pa.int16(), _T.INT: pa.int32(), _T.BIGINT: pa.int64()}
_SIMPLE = {
    _T.FLOAT: pa.float32(), _T.DOUBLE: pa.float64(), _T.BOOLEAN: pa.bool_(), _T.TEXT: pa.string(),
    _T.VARCHAR: pa.string(), _T.CHAR: pa.string(), _T.BINARY: pa.binary(), _T.DATE: pa.date32(),
    _T.TIMESTAMP: pa.timestamp("us"),
}
_INTEGER_TEXT = re.compile(r"\s*[-+]?\d+\s*")
_EPOCH_MS_ABOVE = 10**11


class ConversionError(ValueError):
    """One record that does not fit the schema, with the reason."""


def arrow_type(hive: str, column: str = "column") -> pa.DataType:
    """The Arrow type of a Hive column type (``decimal(10,2)``, ``array<struct<a:int>>``)."""
    try:
        parsed = exp.DataType.build(hive, dialect="hive")
    except (ParseError, ValueError) as exc:
        raise InvalidArgumentException(f"column {column!r}: type {hive!r} is not a Hive type") from exc
    return _arrow(parsed, column, hive)


def _arrow(found: exp.DataType, column: str, text: str) -> pa.DataType:
    kind = found.this
    if kind in _INTS:
        return _INTS[kind]
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == _T.DECIMAL:
        params = [int(p.name) for p in found.expressions]
        precision, scale = (params + [10, 0][len(params):])[:2]
        return pa.decimal128(precision, scale)
    if kind == _T.ARRAY and len(found.expressions) == 1:
        return pa.list_(_arrow(found.expressions[0], column, text))
    if kind == _T.MAP and len(found.expressions) == 2:
        return pa.map_(_arrow(found.expressions[0], column, text), _arrow(found.expressions[1], column, text))
    if kind == _T.STRUCT:
        fields = []
        for member in found.expressions:
            member_type = member.args.get("kind")
            if not isinstance(member, exp.ColumnDef) or not isinstance(member_type, exp.DataType):
                break
            fields.append(pa.field(member.name, _arrow(member_type, column, text)))
        else:
            return pa.struct(fields)
    raise InvalidArgumentException(
        f"column {column!r}: type {text!r} cannot be converted to Parquet here (use tinyint, smallint, int, "
        "bigint, float, double, decimal, boolean, string, varchar, char, binary, date, timestamp, array, map "
        "or struct)")


def arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    """An Arrow schema for Glue columns (name, Hive type)."""
    if not columns:
        raise InvalidArgumentException("the table has no columns to convert records to")
    return pa.schema([pa.field(name, arrow_type(hive, name)) for name, hive in columns])


# -- one value ------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"the number {value!r}"


def _fail(value: Any, expected: str, where: str) -> ConversionError:
    return ConversionError(f"field '{where}': expected {expected}, got {_describe(value)}")


def _integer(bits: int) -> Coerce:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    name = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}[bits]

    def coerce(value: Any, where: str) -> int:
        if isinstance(value, bool):
            raise _fail(value, name, where)
        if isinstance(value, int):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
                isinstance(value, str) and _INTEGER_TEXT.fullmatch(value)):
            number = int(value)
        else:
            raise _fail(value, name, where)
        if not low <= number <= high:
            raise ConversionError(f"field '{where}': {number} is out of the range of {name}")
        return number

    return coerce


def _floating(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise _fail(value, "a number", where)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a number: the failure below says so
            return float(value)
    raise _fail(value, "a number", where)


def _decimal(precision: int, scale: int) -> Coerce:
    def coerce(value: Any, where: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _fail(value, f"decimal({precision},{scale})", where)
        try:
            number = Decimal(str(value)).quantize(Decimal(1).scaleb(-scale))
        except InvalidOperation:
            raise _fail(value, f"decimal({precision},{scale})", where) from None
        if len(number.as_tuple().digits) > precision:
            raise ConversionError(f"field '{where}': {value} has more digits than decimal({precision},{scale})")
        return number

    return coerce


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(value, "a boolean", where)


def _string(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _binary(value: Any, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _fail(value, "a string (its UTF-8 bytes)", where)


def _date(value: Any, where: str) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a date: the failure below says so
            return date.fromisoformat(value.strip())
    raise _fail(value, "a date 'YYYY-MM-DD'", where)


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > _EPOCH_MS_ABOVE else value
        try:
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise ConversionError(f"field '{where}': {value} is not a time") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(value, "a timestamp (ISO 8601 or epoch seconds)", where) from None
        return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)
    raise _fail(value, "a timestamp (ISO 8601 or epoch seconds)", where)


def coercer(kind: pa.DataType, case_insensitive: bool = True) -> Coerce:
    """The function that turns a JSON value into a value of ``kind`` (ConversionError if it cannot)."""
    if pa.types.is_integer(kind):
        return _integer(kind.bit_width)
    if pa.types.is_floating(kind):
        return _floating
    if pa.types.is_decimal(kind):
        return _decimal(kind.precision, kind.scale)
    simple: dict[Any, Coerce] = {pa.bool_(): _boolean, pa.string(): _string, pa.binary(): _binary,
                                 pa.date32(): _date}
    if kind in simple:
        return simple[kind]
    if pa.types.is_timestamp(kind):
        return _timestamp
    if pa.types.is_list(kind):
        return _list(coercer(kind.value_type, case_insensitive))
    if pa.types.is_map(kind):
        return _map(coercer(kind.key_type, case_insensitive), coercer(kind.item_type, case_insensitive))
    if pa.types.is_struct(kind):
        return _struct({kind.field(i).name: coercer(kind.field(i).type, case_insensitive)
                        for i in range(kind.num_fields)}, case_insensitive)
    raise InvalidArgumentException(f"Arrow type {kind} cannot take JSON values")


def _nullable(inner: Coerce) -> Coerce:
    return lambda value, where: None if value is None else inner(value, where)


def _list(element: Coerce) -> Coerce:
    item = _nullable(element)

    def coerce(value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise _fail(value, "an array", where)
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return coerce


def _map(key: Coerce, item: Coerce) -> Coerce:
    value_of = _nullable(item)

    def coerce(value: Any, where: str) -> list[tuple[Any, Any]]:
        if not isinstance(value, dict):
            raise _fail(value, "an object (a map)", where)
        return [(key(k, f"{where}.{k}"), value_of(v, f"{where}.{k}")) for k, v in value.items()]

    return coerce


def _struct(fields: dict[str, Coerce], case_insensitive: bool) -> Coerce:
    def coerce(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(value, "an object", where)
        return _fields(value, fields, case_insensitive, f"{where}.")

    return coerce


def _fields(document: dict[str, Any], fields: dict[str, Coerce], case_insensitive: bool,
            path: str = "") -> dict[str, Any]:
    found = {k.lower(): v for k, v in document.items()} if case_insensitive else document
    row = {}
    for name, coerce in fields.items():
        value = found.get(name.lower() if case_insensitive else name)
        row[name] = None if value is None else coerce(value, f"{path}{name}")
    return row


# -- records --------------------------------------------------------------------------------


class RecordConverter:
    """Turns JSON records into rows of one schema, then a batch of rows into a table or Parquet."""

    def __init__(self, schema: pa.Schema, *, case_insensitive: bool = True) -> None:
        self.schema = schema
        self.case_insensitive = case_insensitive
        self._fields = {f.name: coercer(f.type, case_insensitive) for f in schema}

    def row(self, data: bytes) -> dict[str, Any]:
        """One record as a row; ConversionError says why it does not fit."""
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConversionError(f"the record is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ConversionError(f"the record is {_describe(document)}, not a JSON object")
        return _fields(document, self._fields, self.case_insensitive)

    def table(self, rows: list[dict[str, Any]]) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=self.schema)




def parquet_bytes(table: pa.Table, compression: ParquetCompression) -> bytes:
    """A table as one Parquet file's bytes."""
    out = io.BytesIO()
    pq.write_table(table, out, compression="NONE" if compression == "UNCOMPRESSED" else compression.lower())
    return out.getvalue()

