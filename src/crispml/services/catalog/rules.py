"""Glue's rules for names, locations, column types, formats and partition values,
checked once at the operation boundary.

Names are lower-cased as Glue stores them (for Hive compatibility). They are
held to a stricter alphabet than Glue's "any single-line string" — letters,
digits, ``_`` and ``-`` — so that every name works in SQL and in a resource
name (a ``/`` in a database name would make ``table/a/b/c`` ambiguous).
Locations are lake URIs; ``s3://bucket/prefix`` is accepted and stored as
``lake://bucket/prefix/``. Column types are Hive's (Athena's DDL types); only
the leading type name is checked here, not the full nested grammar.
"""

from __future__ import annotations

import re
from datetime import date

from crispml.core import hive
from crispml.services.catalog.errors import InvalidInputException

MAX_NAME = 255
_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]*$")

#: Formats an external table may have, as Glue's ``classification`` parameter names them.
FORMATS = ("csv", "json", "parquet")

#: Hive type names Athena reads (the leading word of a column type).
PRIMITIVE_TYPES = frozenset({
    "boolean", "tinyint", "smallint", "int", "integer", "bigint", "float", "double", "decimal",
    "char", "varchar", "string", "binary", "date", "timestamp",
})
COMPLEX_TYPES = frozenset({"array", "map", "struct"})
INTEGRAL_TYPES = frozenset({"tinyint", "smallint", "int", "integer", "bigint"})
NUMERIC_TYPES = INTEGRAL_TYPES | {"float", "double", "decimal"}
_TYPE_HEAD = re.compile(r"^\s*([a-z]+)\s*(.*)$", re.DOTALL)

#: SerDe libraries and input formats that name a format when ``classification`` does not.
_FORMAT_HINTS = (
    ("parquet", "parquet"),
    ("opencsvserde", "csv"),
    ("lazysimpleserde", "csv"),
    ("textinputformat", "csv"),
    ("jsonserde", "json"),
)


def check_name(name: str, what: str = "name") -> str:
    """A database, table or column name: 1-255 characters, stored lower-case."""
    lowered = name.lower()
    if not 1 <= len(lowered) <= MAX_NAME:
        raise InvalidInputException(f"{what} {name!r} must be 1-{MAX_NAME} characters long")
    if not _NAME.match(lowered):
        raise InvalidInputException(
            f"{what} {name!r} may hold only letters, digits, '_' and '-' (and must not start with '-')"
        )
    return lowered


def check_location(location: str, *, what: str = "location") -> str:
    """A table's or database's lake prefix, refused with Glue's InvalidInputException (``core.hive``)."""
    return hive.check_location(location, what=what, error=InvalidInputException)


def check_column_type(column: str, type_: str) -> str:
    """A Hive column type; the leading name must be one Athena knows."""
    lowered = type_.strip().lower()
    match = _TYPE_HEAD.match(lowered)
    head = match.group(1) if match else ""
    if head not in PRIMITIVE_TYPES | COMPLEX_TYPES:
        known = ", ".join(sorted(PRIMITIVE_TYPES | COMPLEX_TYPES))
        raise InvalidInputException(f"column {column!r} has unknown type {type_!r} (types: {known})")
    if head in COMPLEX_TYPES and "<" not in lowered:
        raise InvalidInputException(f"column {column!r}: {head} needs element types, e.g. '{head}<string>'")
    if lowered.count("<") != lowered.count(">") or lowered.count("(") != lowered.count(")"):
        raise InvalidInputException(f"column {column!r} has unbalanced brackets in type {type_!r}")
    return lowered


def base_type(type_: str) -> str:
    """The leading type name of a column type: ``decimal(10,2)`` → ``decimal``."""
    match = _TYPE_HEAD.match(type_)
    return match.group(1) if match else type_


def detect_format(classification: str | None, serde_library: str | None, input_format: str | None) -> str:
    """The format of an external table: its ``classification``, else what its SerDe or input format names."""
    if classification is not None:
        lowered = classification.lower()
        if lowered not in FORMATS:
            raise InvalidInputException(
                f"classification {classification!r} is not supported (formats: {', '.join(FORMATS)})"
            )
        return lowered
    for hint in (serde_library, input_format):
        for needle, found in _FORMAT_HINTS:
            if hint and needle in hint.lower():
                return found
    raise InvalidInputException(
        "an external table needs a format: set Parameters {\"classification\": \"csv\" | \"json\" | "
        "\"parquet\"} (or a SerDe library that names one)"
    )


def check_csv_serde(parameters: dict[str, str]) -> None:
    """CSV SerDe parameters: one-character separator/quote/escape, a whole header line count."""
    for key in ("separatorChar", "quoteChar", "escapeChar", "field.delim"):
        value = parameters.get(key)
        if value is not None and len(value) != 1 and value not in ("\\t", "\t"):
            raise InvalidInputException(f"SerDe parameter {key!r} must be one character, not {value!r}")
    header = parameters.get("skip.header.line.count")
    if header is not None and not (header.isdigit() and int(header) >= 0):
        raise InvalidInputException(
            f"SerDe parameter 'skip.header.line.count' must be a whole number of lines, not {header!r}"
        )


def check_partition_value(key: str, type_: str, value: str) -> None:
    """A partition value must read as its key's type (integral and date keys)."""
    head = base_type(type_)
    if head in INTEGRAL_TYPES and not re.fullmatch(r"-?\d+", value):
        raise InvalidInputException(f"partition key {key!r} is {type_}, but value {value!r} is not a whole number")
    if head == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise InvalidInputException(
                f"partition key {key!r} is a date, but value {value!r} is not YYYY-MM-DD"
            ) from None


