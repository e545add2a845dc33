"""Glue (Hive) column types ↔ Iceberg types, and a table's Iceberg schema from its Glue columns.

A managed table is declared the Glue way — ``StorageDescriptor.Columns`` and
``PartitionKeys`` with Hive type strings — and stored as an Iceberg schema in
which the partition keys are ordinary columns (identity-partitioned, so every
data file carries them). Iceberg has fewer primitive types than Hive, so some
names change on the way in and read back as Iceberg holds them, as Athena shows
them: ``tinyint``/``smallint``/``integer`` → ``int``, ``char(n)``/``varchar(n)``
→ ``string``, ``decimal`` → ``decimal(10,0)`` (Hive's default).

Hive's nested type grammar (``array<…>``, ``map<…,…>``, ``struct<name:type,…>``)
is parsed here by hand: pyiceberg parses only Iceberg's own JSON types and
sqlglot would bring a dialect's quirks for a grammar of a dozen lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import count
from typing import NoReturn

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    PrimitiveType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from crispml.services.catalog.entities import Column
from crispml.services.catalog.errors import InvalidInputException

_PRIMITIVES: dict[str, PrimitiveType] = {
    "string": StringType(), "char": StringType(), "varchar": StringType(),
    "tinyint": IntegerType(), "smallint": IntegerType(), "int": IntegerType(), "integer": IntegerType(),
    "bigint": LongType(), "float": FloatType(), "double": DoubleType(), "boolean": BooleanType(),
    "date": DateType(), "timestamp": TimestampType(), "binary": BinaryType(),
}
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")
_MAX_DECIMAL_PRECISION = 38


class _Parser:
    """A recursive-descent parser of one Hive type string."""

    def __init__(self, column: str, text: str, ids: Iterator[int]) -> None:
        self.column = column
        self.text = text
        self.tokens = self._tokens(text)
        self.at = 0
        self.ids = ids

    def _tokens(self, text: str) -> list[str]:
        tokens: list[str] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if not text[position:].strip():
                    break
                self.fail(f"unexpected {text[position:].strip()[:10]!r}")
            tokens.append(match.group(match.lastindex or 0).lower())
            position = match.end()
        return tokens

    def fail(self, why: str) -> NoReturn:
        raise InvalidInputException(f"column {self.column!r}: type {self.text!r} is not valid ({why})")

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            self.fail(f"expected {expected!r}" if expected else "it ends too early")
        self.at += 1
        assert token is not None
        return token

    def parse(self) -> IcebergType:
        found = self.type()
        if self.peek() is not None:
            self.fail(f"unexpected {self.peek()!r} after the type")
        return found

    def type(self) -> IcebergType:
        name = self.take()
        if name == "array":
            self.take("<")
            element = self.type()
            self.take(">")
            return ListType(next(self.ids), element, element_required=False)
        if name == "map":
            self.take("<")
            key = self.type()
            self.take(",")
            value = self.type()
            self.take(">")
            return MapType(next(self.ids), key, next(self.ids), value, value_required=False)
        if name == "struct":
            return self.struct()
        if name == "decimal":
            return self.decimal()
        if name in ("char", "varchar") and self.peek() == "(":
            self.take("(")
            self.number()
            self.take(")")
        if name not in _PRIMITIVES:
            self.fail(f"unknown type {name!r}")
        return _PRIMITIVES[name]

    def struct(self) -> StructType:
        self.take("<")
        fields: list[NestedField] = []
        while True:
            name = self.take()
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                self.fail(f"struct field name {name!r}")
            self.take(":")
            fields.append(NestedField(next(self.ids), name, self.type(), required=False))
            if self.peek() == ",":
                self.take(",")
                continue
            self.take(">")
            return StructType(*fields)

    def decimal(self) -> DecimalType:
        precision, scale = 10, 0
        if self.peek() == "(":
            self.take("(")
            precision = self.number()
            if self.peek() == ",":
                self.take(",")
                scale = self.number()
            self.take(")")
        if not (1 <= precision <= _MAX_DECIMAL_PRECISION and 0 <= scale <= precision):
            self.fail(f"decimal precision must be 1-{_MAX_DECIMAL_PRECISION} and scale 0-precision")
        return DecimalType(precision, scale)

    def number(self) -> int:
        token = self.take()
        if not token.isdigit():
            self.fail(f"expected a number, not {token!r}")
        return int(token)


def iceberg_type(column: str, hive_type: str, ids: Iterator[int] | None = None) -> IcebergType:
    """The Iceberg type of a Hive column type (``decimal(10,2)``, ``array<struct<a:int>>``)."""
    return _Parser(column, hive_type, ids or count(1)).parse()


def hive_type(found: IcebergType) -> str:
    """The Hive (Glue/Athena) name of an Iceberg type."""
    if isinstance(found, ListType):
        return f"array<{hive_type(found.element_type)}>"
    if isinstance(found, MapType):
        return f"map<{hive_type(found.key_type)},{hive_type(found.value_type)}>"
    if isinstance(found, StructType):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.field_type)}" for f in found.fields) + ">"
    if isinstance(found, DecimalType):
        return f"decimal({found.precision},{found.scale})"
    names: list[tuple[type[IcebergType], str]] = [
        (IntegerType, "int"), (LongType, "bigint"), (FloatType, "float"), (DoubleType, "double"),
        (BooleanType, "boolean"), (StringType, "string"), (DateType, "date"), (TimestampType, "timestamp"),
        (TimestamptzType, "timestamp"), (BinaryType, "binary"), (FixedType, "binary"), (UUIDType, "string"),
        (TimeType, "string"),
    ]
    for kind, name in names:
        if isinstance(found, kind):
            return name
    return str(found)


def table_schema(columns: list[Column], partition_keys: list[Column]) -> Schema:
    """The Iceberg schema of a Glue table: its columns, then its partition keys, all optional."""
    ids = count(1)
    fields = []
    for column in [*columns, *partition_keys]:
        field_id = next(ids)
        fields.append(NestedField(field_id, column.name, iceberg_type(column.name, column.type or "", ids),
                                  required=False, doc=column.comment))
    return Schema(*fields)


def partition_spec(schema: Schema, partition_keys: list[Column]) -> PartitionSpec:
    """An identity partition spec over the partition keys (Hive-style partitions, hidden in Iceberg)."""
    return PartitionSpec(*[
        PartitionField(source_id=schema.find_field(key.name).field_id, field_id=1000 + i,
                       transform=IdentityTransform(), name=key.name)
        for i, key in enumerate(partition_keys)
    ])


def glue_columns(schema: Schema, names: list[str] | None = None, comments: dict[str, str | None] | None = None,
                 ) -> list[Column]:
    """Glue columns for the named top-level fields of ``schema`` (default: all), typed as Iceberg holds them."""
    wanted = names if names is not None else [f.name for f in schema.fields]
    by_name = {f.name: f for f in schema.fields}
    return [Column(name=name, type=hive_type(by_name[name].field_type),
                   comment=(comments or {}).get(name, by_name[name].doc)) for name in wanted]
