"""Athena's result CSV: writing it from Arrow batches, and reading it back a page at a time.

The format is Athena's: a header row, every value double-quoted (``"`` doubled
inside), SQL NULL as an empty unquoted field, ``\\n`` after each row. Values
are printed as Athena (Trino) prints them: ``true``/``false``, doubles as Java
does (``100.0``, ``1.0E20``, ``NaN``, ``Infinity``), timestamps with
milliseconds (``2024-01-01 12:00:00.000``), arrays ``[1, 2]``, maps and rows
``{a=1, b=2}``.

Writing: simple columns are cast to text by pyarrow and the CSV itself is
written by ``pyarrow.csv`` (its ``all_valid`` quoting is exactly Athena's);
only doubles and nested values are formatted here, because Arrow prints them
differently from Trino.

Reading is written by hand because the reader must say where each record
ends in bytes — page tokens are byte offsets, so a page is one ranged read of
the file, however large the file — and must tell NULL (empty, unquoted) from
the empty string (``""``), which Python's ``csv`` module can do neither of.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_QUOTE = 0x22
_COMMA = 0x2C
_NEWLINE = 0x0A
_RETURN = 0x0D
_WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")


# -- writing -----------------------------------------------------------------------------------


def header_bytes(names: Sequence[str]) -> bytes:
    """The header row: every name quoted."""
    return (",".join(_quoted(n) for n in names) + "\n").encode("utf-8") if names else b""


#: Double columns of at least this many values are printed by Arrow's kernels (:func:`_doubles`); shorter ones
#: value by value, which costs less than the kernels' set-up (the two cost the same at about 120 values: 0.06 ms).
VECTOR_DOUBLES = 128
#: Batches of at most this many values are written here rather than by ``pyarrow.csv``, whose set-up costs
#: more than writing a few rows (a ``SELECT 1``, an aggregate's one row).
SMALL = 64


def batch_bytes(batch: pa.RecordBatch) -> bytes:
    """One batch's rows in Athena's CSV (no header)."""
    if batch.num_rows == 0 or batch.num_columns == 0:
        return b""
    columns = [_as_text(column) for column in batch.columns]
    if batch.num_rows * batch.num_columns <= SMALL:
        values = [column.to_pylist() for column in columns]
        return "".join(",".join("" if v is None else _quoted(v) for v in row) + "\n"
                       for row in zip(*values, strict=True)).encode("utf-8")
    table = pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    out = io.BytesIO()
    pacsv.write_csv(table, out, _WRITE_OPTIONS)
    return out.getvalue()


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _as_text(column: pa.Array) -> pa.Array:
    """A column as Athena prints it, one string (or null) per value."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    if pa.types.is_string_view(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_float64(kind) and len(column) >= VECTOR_DOUBLES:
        return _doubles(column)
    if pa.types.is_floating(kind):
        return pa.array([None if v is None else java_double(v) for v in column.to_pylist()], pa.string())
    if pa.types.is_timestamp(kind):
        millis = pc.cast(column, pa.timestamp("ms", tz=kind.tz), safe=False)
        text = pc.strftime(millis, "%Y-%m-%d %H:%M:%S")
        return pc.binary_join_element_wise(text, pa.scalar(f" {kind.tz}"), "") if kind.tz else text
    if (pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)
            or pa.types.is_date(kind)):
        return pc.cast(column, pa.string())
    return pa.array([None if v is None else _value(v) for v in column.to_pylist()], pa.string())


def _doubles(column: pa.Array) -> pa.Array:
    """:func:`java_double` of a whole double column: Arrow prints the shortest digits that read back as the
    same double, as Python's ``repr`` does, so values Java prints without an exponent are Arrow's text (with
    ``.0`` added to whole numbers); the others are printed one by one."""
    text = pc.cast(column, pa.string())
    magnitude = pc.abs(column)
    plain = pc.or_(pc.equal(column, 0.0), pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)))
    whole = pc.invert(pc.match_substring(text, "."))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, pa.scalar(".0"), ""), text)
    if pc.all(pc.fill_null(plain, True)).as_py():
        return text
    rest = [None if v is None or keep else java_double(v)
            for v, keep in zip(column.to_pylist(), plain.to_pylist(), strict=True)]
    return pc.if_else(pc.fill_null(plain, True), text, pa.array(rest, pa.string()))


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` (and so Athena) prints it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(float(value))).as_tuple()
    assert isinstance(exponent, int)
    power = len(digits) - 1 + exponent
    shown = "".join(str(d) for d in digits).rstrip("0") or "0"
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def _value(value: Any) -> str:
    """A nested or unusual value as Trino prints it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, date | Decimal | int | str):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # a map: key/value pairs
            return "{" + ", ".join(f"{_value(k)}={_value(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


# -- reading -----------------------------------------------------------------------------------


def parse_records(data: bytes, limit: int, *, final: bool) -> tuple[list[list[str | None]], int]:
    """Up to ``limit`` whole records from the start of ``data``, and the byte offset after the last.

    ``final`` says ``data`` runs to the end of the file; otherwise a record cut
    off at the end of ``data`` is left for the next read. A field is None for
    NULL (empty and unquoted) and a string otherwise.
    """
    plain = _plain_records(data, limit)
    return plain if plain is not None else _records(data, limit, final=final)


def _plain_records(data: bytes, limit: int) -> tuple[list[list[str | None]], int] | None:
    """:func:`parse_records` of the common page, by whole lines; None if the page is not one.

    Most results hold no NULL, no empty string and no quote or line break in a value: then every record is one
    line of quoted fields joined by ``","``, and splitting lines and fields reads it ten times faster than
    :func:`_records` does byte by byte. The page qualifies when it holds no ``""`` (so no value holds a quote
    and none is empty) and no carriage return, and every line it reads starts and ends with a quote and holds
    exactly the quotes of its separators: then no field is NULL and no value spans two lines (a line cut inside
    a value would end or start with the value's text, which holds no quote). Records cut off at the end are
    left for the next read either way; a file that does not end with a line break is read by :func:`_records`.
    """
    stop = data.rfind(b"\n") + 1
    if stop == 0:
        return None
    chunk = data[:stop]
    if b'""' in chunk or b"\r" in chunk:
        return None
    lines = chunk.decode("utf-8").split("\n")
    del lines[-1]  # the text after the last line break: empty
    if len(lines) > limit:
        del lines[limit:]
        stop = len("\n".join(lines).encode("utf-8")) + 1
    records: list[list[str | None]] = []
    for line in lines:
        if len(line) < 2 or line[0] != '"' or line[-1] != '"':
            return None
        fields: list[str | None] = line[1:-1].split('","')  # type: ignore[assignment]
        if line.count('"') != 2 * len(fields):
            return None
        records.append(fields)
    return records, stop


def _records(data: bytes, limit: int, *, final: bool) -> tuple[list[list[str | None]], int]:
    """:func:`parse_records` of any page, byte by byte."""
    records: list[list[str | None]] = []
    end, size = 0, len(data)
    while len(records) < limit and end < size:
        parsed = _record(data, end, final)
        if parsed is None:
            break
        record, end = parsed
        records.append(record)
    return records, end


def _record(data: bytes, start: int, final: bool) -> tuple[list[str | None], int] | None:
    """One record starting at ``start``: its fields and the offset after its line end (None if cut off)."""
    fields: list[str | None] = []
    pos, size = start, len(data)
    while True:
        if pos < size and data[pos] == _QUOTE:
            parsed = _quoted_field(data, pos + 1, final)
            if parsed is None:
                return None
            value, pos = parsed
            fields.append(value)
        else:
            stop = pos
            while stop < size and data[stop] not in (_COMMA, _NEWLINE, _RETURN):
                stop += 1
            if stop == size and not final:
                return None
            fields.append(data[pos:stop].decode("utf-8") if stop > pos else None)
            pos = stop
        if pos >= size:
            return (fields, pos) if final else None
        if data[pos] == _COMMA:
            pos += 1
            continue
        if data[pos] == _RETURN:
            pos += 1
            if pos >= size and not final:
                return None
        if pos < size and data[pos] == _NEWLINE:
            pos += 1
        return fields, pos


def _quoted_field(data: bytes, pos: int, final: bool) -> tuple[str, int] | None:
    """The text of a quoted field whose opening quote is just before ``pos``, and the offset after it."""
    parts: list[bytes] = []
    size = len(data)
    while True:
        quote = data.find(b'"', pos)
        if quote < 0:
            return None
        if quote + 1 < size and data[quote + 1] == _QUOTE:  # "" inside quotes: one quote
            parts.append(data[pos:quote + 1])
            pos = quote + 2
            continue
        if quote + 1 >= size and not final:
            return None  # the next byte may be the second quote of a pair
        parts.append(data[pos:quote])
        return b"".join(parts).decode("utf-8"), quote + 1
