"""Fitting source rows to a target table: columns matched by name, values cast to the table's types.

The target's columns and Arrow types come from its Glue columns the way the
catalog builds a managed table's Iceberg schema (``iceberg_types``), so rows
conformed here pass the catalog's own check unchanged and without a copy.
Names match case-insensitively (Glue names are lower-case); a source column
the table lacks is refused, a table column the source lacks is NULL; values
are cast safely (``"12"`` into ``bigint`` fits, ``"abc"`` or ``3.5`` does not;
a timestamp with a zone offset is taken as the UTC instant). A value that does
not fit is refused naming the column, the file (or source) and the row — found
by bisecting the batch, so the search costs a few casts, not one per row.

Deliberately not here: reading sources and writing targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from crispml.services.catalog.service import CatalogService, Column, Table
from crispml.services.ingest.errors import InvalidInputException

#: A text timestamp that ends in a zone offset (``…T10:00:00Z``, ``… 10:00:00+02:00``).
_ZONED = r"\d[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError, TypeError,
                ValueError)


@dataclass(frozen=True)
class TargetSchema:
    """A catalog table's columns as Arrow sees them: data columns, then partition keys."""

    table: str
    arrow: pa.Schema
    hive_types: dict[str, str]
    partition_keys: list[str] = field(default_factory=list)

    @property
    def data_columns(self) -> list[str]:
        return [n for n in self.arrow.names if n not in self.partition_keys]

    def type_of(self, name: str) -> pa.DataType:
        return self.arrow.field(name).type


def target_schema(table: Table) -> TargetSchema:
    """The Arrow schema rows must have to go into ``table``."""
    columns: list[Column] = table.storage_descriptor.columns
    keys: list[Column] = table.partition_keys
    return TargetSchema(table=f"{table.database_name}.{table.name}", arrow=CatalogService.arrow_schema(table),
                        hive_types={c.name: (c.type or "string") for c in [*columns, *keys]},
                        partition_keys=[k.name for k in keys])


def column_arrays(rows: dict[str, list[Any]], hints: dict[str, pa.DataType], origin: str,
                  first_row: int) -> pa.Table:
    """Python values per column as Arrow arrays of the type Arrow infers (:func:`conform` casts them
    safely later: converting straight to the table's type would truncate 2.5 into a bigint without a
    word). A column mixing kinds of values is refused, unless the table's column is text, which any
    value can be written as."""
    arrays: dict[str, pa.Array] = {}
    for name, values in rows.items():
        hint = hints.get(name.lower())
        try:
            arrays[name] = pa.array(values)
            kind = arrays[name].type
            if hint is not None and _is_text(hint) and (
                    isinstance(kind, pa.BaseExtensionType) or pa.types.is_fixed_size_binary(kind)):
                # a UUID (Arrow's uuid extension, 16 bytes) into a text column: its text, not its bytes
                arrays[name] = pa.array([None if v is None else str(v) for v in values], type=hint)
        except _CAST_ERRORS as exc:
            if hint is not None and _is_text(hint):
                arrays[name] = pa.array([None if v is None else str(v) for v in values], type=hint)
                continue
            at = _first_mixed(values)
            try:
                pa.array(values[at:at + 1])
            except _CAST_ERRORS:
                raise InvalidInputException(
                    f"{origin}, row {first_row + at}: column {name!r} holds {values[at]!r}, a "
                    f"{type(values[at]).__name__} value no table column type holds; convert it in the source "
                    f"(e.g. a Query with CAST({name} AS text))") from None
            raise InvalidInputException(
                f"{origin}, row {first_row + at}: column {name!r} holds {values[at]!r}, unlike the values before "
                f"it in the same column ({_first_line(exc)})") from None
    return pa.table(arrays) if arrays else pa.table({})


def _first_mixed(values: Sequence[Any]) -> int:
    low, high = 0, len(values)
    while high - low > 1:  # the shortest prefix Arrow cannot make one array of ends at the culprit
        middle = (low + high) // 2
        try:
            pa.array(values[:middle])
            low = middle
        except _CAST_ERRORS:
            high = middle
    return low


def conform(data: pa.Table, target: TargetSchema, origin: str, first_row: int) -> pa.Table:
    """``data`` with exactly the target's columns and types, or InvalidInputException naming what does not fit.

    ``origin`` names where the rows came from (a file, a source table) and ``first_row`` the 1-based
    number of the batch's first row there, so an error can say which row.
    """
    given: dict[str, int] = {}
    for i, name in enumerate(data.column_names):
        if name.lower() in given:
            raise InvalidInputException(f"{origin} has column {name!r} twice (names are not case-sensitive)")
        given[name.lower()] = i
    wanted = set(target.arrow.names)
    for name in data.column_names:
        if name.lower() not in wanted:
            raise InvalidInputException(
                f"{origin} has column {name!r}, which table {target.table} does not have "
                f"(columns: {', '.join(target.arrow.names)}); leave it out of the source or add it to the table")
    columns = []
    for field_ in target.arrow:
        at = given.get(field_.name)
        if at is None:
            columns.append(pa.nulls(data.num_rows, field_.type))
            continue
        columns.append(_cast_column(data.column(at), field_, target, origin, first_row))
    return pa.Table.from_arrays(columns, schema=target.arrow)


def _cast_column(column: pa.ChunkedArray, field_: pa.Field, target: TargetSchema, origin: str,
                 first_row: int) -> pa.ChunkedArray:
    try:
        return cast(column, field_.type)
    except _CAST_ERRORS as exc:
        array = column.combine_chunks()
        row = _first_failing(array, field_.type)
        value = array[row].as_py() if row < len(array) else None
        raise InvalidInputException(
            f"{origin}, row {first_row + row}: column {field_.name!r} of table {target.table} is "
            f"{target.hive_types.get(field_.name, field_.type)}, but the value {value!r} ({array.type}) does not "
            f"fit it ({_first_line(exc)})") from None


def cast(values: pa.ChunkedArray | pa.Array, to: pa.DataType) -> Any:
    """A safe cast; text timestamps with a zone offset are read as UTC instants."""
    if values.type == to:
        return values
    try:
        return pc.cast(values, to, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not (pa.types.is_timestamp(to) and to.tz is None and _is_text(values.type)):
            raise
        zoned = pc.match_substring_regex(values, _ZONED)
        aware = pc.cast(pc.cast(pc.if_else(zoned, values, None), pa.timestamp(to.unit, tz="UTC"), safe=True), to)
        naive = pc.cast(pc.if_else(zoned, None, values), to, safe=True)
        return pc.if_else(zoned, aware, naive)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _first_failing(array: pa.Array, to: pa.DataType) -> int:
    """The index of the first value of ``array`` that does not cast to ``to``."""
    low, high = 0, len(array)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            cast(array.slice(low, middle - low), to)
            low = middle
        except _CAST_ERRORS:
            high = middle
    return low


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
