"""What data operations on managed tables accept: bodies of rows, and row filters.

A ``Body`` is rows in any of the shapes Python users hold them — a pyarrow
``Table``, ``RecordBatch`` or ``RecordBatchReader``, a pandas ``DataFrame`` —
or a Parquet file (a path, or a binary file such as the CLI opens for
``--body FILE``). :func:`conform` fits the rows to the table's Iceberg schema
column by column, so a mismatch is refused naming the column instead of
surfacing as pyiceberg's whole-schema diff: names match case-insensitively (Glue
names are lower-case), a column the table lacks is refused, a column the body
lacks is null, and values are cast safely (``int`` into ``bigint`` fits,
``"abc"`` into ``bigint`` or ``3.5`` into ``int`` does not).

A ``RowFilter`` is a SQL boolean expression (``day = '2024-01-01' AND amount
> 10``) in pyiceberg's filter grammar, parsed by pyiceberg and bound to the
schema here, once, so a typo or an unknown column is an InvalidArgument before
anything is written.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import BooleanExpression
from pyiceberg.expressions.parser import parse
from pyiceberg.expressions.visitors import bind
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyparsing import ParseException

from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.iceberg_types import hive_type

_BODY_KINDS = "a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame, or a Parquet file"


def _is_dataframe(body: object) -> bool:
    return type(body).__module__.split(".")[0] == "pandas" and type(body).__name__ == "DataFrame"


def check_body(body: object) -> object:
    """A Body must be rows in a shape :func:`body_table` reads (checked when the request is validated)."""
    if isinstance(body, pa.Table | pa.RecordBatch | pa.RecordBatchReader | str | os.PathLike) or (
            _is_dataframe(body) or hasattr(body, "read")):
        return body
    raise InvalidInputException(f"Body must be {_BODY_KINDS} (path or binary file), not {type(body).__name__}")


def body_table(body: Any) -> pa.Table:
    """The rows of a Body as one pyarrow Table (a reader is read to its end)."""
    if isinstance(body, pa.Table):
        return body
    if isinstance(body, pa.RecordBatch):
        return pa.Table.from_batches([body])
    if isinstance(body, pa.RecordBatchReader):
        return body.read_all()
    if _is_dataframe(body):
        try:
            return pa.Table.from_pandas(body, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInputException(f"Body: the DataFrame cannot be turned into columns: {exc}") from exc
    source = os.fspath(body) if isinstance(body, str | os.PathLike) else body
    try:
        return pq.read_table(source)
    except FileNotFoundError as exc:
        raise InvalidInputException(f"Body: no Parquet file at {source!r}") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        name = getattr(source, "name", source)
        raise InvalidInputException(f"Body {name!r} is not a readable Parquet file: {exc}") from exc


def conform(data: pa.Table, schema: Schema, table: str) -> pa.Table:
    """``data`` with exactly the table's columns and types, or InvalidArgument naming the column that does not fit."""
    target = schema_to_pyarrow(schema, include_field_ids=False)
    given: dict[str, int] = {}
    for i, name in enumerate(data.column_names):
        if name.lower() in given:
            raise InvalidInputException(f"Body has column {name!r} twice (names are not case-sensitive)")
        given[name.lower()] = i
    wanted = {f.name for f in target}
    for name in data.column_names:
        if name.lower() not in wanted:
            raise InvalidInputException(
                f"Body has column {name!r}, which table {table} does not have (columns: {', '.join(target.names)})"
            )
    columns = []
    for field in target:
        if field.name not in given:
            columns.append(pa.nulls(len(data), field.type))
            continue
        column = data.column(given[field.name])
        try:
            columns.append(pc.cast(column, field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            declared = hive_type(schema.find_field(field.name).field_type)
            raise InvalidInputException(
                f"column {field.name!r} of table {table} is {declared}, but the Body's {column.type} values "
                f"do not fit it: {str(exc).splitlines()[0]}"
            ) from exc
    return pa.Table.from_arrays(columns, schema=target)


def row_filter(text: str, schema: Schema, table: str) -> BooleanExpression:
    """A RowFilter parsed and checked against the table's columns."""
    try:
        expression = parse(text)
    except ParseException as exc:  # its own message lists the whole grammar: say where instead
        near = repr(text[exc.loc:exc.loc + 20]) if exc.loc < len(text) else "the end"
        raise InvalidInputException(
            f"RowFilter {text!r} is not a valid filter: cannot read it at character {exc.loc + 1} (at {near}); "
            "write a SQL condition such as \"day = '2024-01-01' AND amount > 10\""
        ) from None
    except ValueError as exc:
        raise InvalidInputException(f"RowFilter {text!r} is not a valid filter: {exc}") from exc
    try:
        bind(schema, expression, case_sensitive=False)
    except ValueError as exc:
        columns = ", ".join(f.name for f in schema.fields)
        raise InvalidInputException(
            f"RowFilter {text!r} does not fit table {table}: {exc} (columns: {columns})") from exc
    return expression
