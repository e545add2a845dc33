"""Object keys as Firehose writes them: custom prefixes with ``!{namespace:value}`` expressions,
the default time prefix, and the file name.

An object's key is ``<evaluated prefix><name>-1-YYYY-MM-DD-HH-MM-SS-<uuid><ext>``
(UTC, the time the object's oldest record arrived; ``.gz`` for GZIP, ``.parquet``
for record format conversion). The prefix:

- ``Prefix`` without expressions: ``<Prefix>YYYY/MM/dd/HH/`` (Firehose's default time prefix);
- ``Prefix`` with expressions: the evaluated Prefix alone (a custom prefix replaces the default);
- error objects: ``<ErrorOutputPrefix><error-output-type>/YYYY/MM/dd/HH/`` when ErrorOutputPrefix
  has no expressions (``Prefix`` stands in for a missing one), else the evaluated ErrorOutputPrefix,
  which must then hold ``!{firehose:error-output-type}``.

Expressions: ``!{timestamp:PATTERN}`` (a subset of Java's DateTimeFormatter:
``yyyy``, ``yy``, ``MM``, ``M``, ``dd``, ``d``, ``HH``, ``H``, ``mm``, ``m``,
``ss``, ``s``, ``'quoted text'``, ``''`` for a quote, and any other non-letter
as itself), ``!{firehose:error-output-type}``, ``!{firehose:random-string}``
(11 characters), ``!{partitionKeyFromQuery:KEY}`` and
``!{partitionKeyFromLambda:KEY}``. Every instance of ``timestamp`` in one
prefix is the same instant. Written here because the grammar is Firehose's
own and the date patterns are Java's; Python's ``strftime`` has neither.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from crispml.services.firehose.errors import InvalidArgumentException

_EXPRESSION = re.compile(r"!\{([^{}:]*):([^{}]*)\}")
NAMESPACES = ("timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda")
ERROR_TYPE, RANDOM = "error-output-type", "random-string"
_DATE_FIELDS = {"y": (2, 4), "M": (1, 2), "d": (1, 2), "H": (1, 2), "m": (1, 2), "s": (1, 2)}
DEFAULT_TIME_PREFIX = "yyyy/MM/dd/HH/"


@dataclass(frozen=True)
class Expression:
    namespace: str
    value: str


@dataclass(frozen=True)
class Template:
    """A parsed prefix: literal text and expressions, in order."""

    text: str
    parts: tuple[str | Expression, ...] = field(default=())

    @property
    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]

    def uses(self, namespace: str, value: str | None = None) -> bool:
        return any(e.namespace == namespace and (value is None or e.value == value) for e in self.expressions)

    def keys(self, namespace: str) -> list[str]:
        return [e.value for e in self.expressions if e.namespace == namespace]


def parse(text: str, what: str) -> Template:
    """Parse a prefix, refusing unknown namespaces and date patterns outside the subset."""
    parts: list[str | Expression] = []
    at = 0
    for match in _EXPRESSION.finditer(text):
        parts.append(text[at:match.start()])
        namespace, value = match.group(1), match.group(2)
        if namespace not in NAMESPACES:
            raise InvalidArgumentException(
                f"{what} {text!r}: unknown expression namespace {namespace!r} (known: {', '.join(NAMESPACES)})")
        if namespace == "firehose" and value not in (ERROR_TYPE, RANDOM):
            raise InvalidArgumentException(
                f"{what} {text!r}: '!{{firehose:{value}}}' is not an expression; use "
                f"!{{firehose:{ERROR_TYPE}}} or !{{firehose:{RANDOM}}}")
        if namespace == "timestamp":
            date_pattern(value, what)
        if namespace.startswith("partitionKey") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise InvalidArgumentException(f"{what} {text!r}: partition key name {value!r} is not an identifier")
        parts.append(Expression(namespace, value))
        at = match.end()
    parts.append(text[at:])
    literal = "".join(p for p in parts if isinstance(p, str))
    if "!{" in literal:
        raise InvalidArgumentException(
            f"{what} {text!r} has an unfinished expression; write expressions as !{{namespace:value}}")
    shape = "".join(p if isinstance(p, str) else "x" for p in parts)  # the key's shape, expressions filled in
    if ".." in shape.split("/") or shape.startswith("/"):
        raise InvalidArgumentException(f"{what} {text!r} must not start with '/' or hold a '..' segment")
    return Template(text, tuple(p for p in parts if p != ""))


def date_pattern(pattern: str, what: str = "pattern") -> list[tuple[str, int] | str]:
    """A Java date pattern (the subset above) as fields (letter, width) and literal text."""
    out: list[tuple[str, int] | str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise InvalidArgumentException(f"{what}: date pattern {pattern!r} has an unclosed quote")
            out.append("'" if end == i + 1 else pattern[i + 1:end])
            i = end + 1
            continue
        if char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            widths = _DATE_FIELDS.get(char)
            if widths is None or run not in ((2, 4) if char == "y" else (1, 2)):
                raise InvalidArgumentException(
                    f"{what}: date pattern {pattern!r}: {char * run!r} is not supported "
                    "(use yyyy, yy, MM, M, dd, d, HH, H, mm, m, ss, s and 'quoted text')")
            out.append((char, run))
            i += run
            continue
        out.append(char)
        i += 1
    return out


def format_time(pattern: str, when: datetime) -> str:
    values = {"y": when.year, "M": when.month, "d": when.day, "H": when.hour, "m": when.minute, "s": when.second}
    text = []
    for part in date_pattern(pattern):
        if isinstance(part, str):
            text.append(part)
            continue
        letter, width = part
        value = values[letter] % 100 if (letter, width) == ("y", 2) else values[letter]
        text.append(f"{value:0{width}d}")
    return "".join(text)


def random_string() -> str:
    return secrets.token_hex(6)[:11]


def evaluate(template: Template, when: datetime, *, error_type: str | None = None,
             query_keys: dict[str, str] | None = None, lambda_keys: dict[str, str] | None = None) -> str:
    """The prefix for an object whose oldest record arrived at ``when`` (UTC)."""
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        elif part.namespace == "timestamp":
            out.append(format_time(part.value, when))
        elif part.namespace == "firehose":
            out.append((error_type or "") if part.value == ERROR_TYPE else random_string())
        elif part.namespace == "partitionKeyFromQuery":
            out.append((query_keys or {})[part.value])
        else:
            out.append((lambda_keys or {})[part.value])
    return "".join(out)


def object_name(stream: str, when: datetime, extension: str) -> str:
    """Firehose's file name: ``<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid><extension>``."""
    return f"{stream}-1-{when:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension}"


@dataclass(frozen=True)
class KeyPlan:
    """Where a delivery stream's objects and error objects go."""

    prefix: Template
    error_prefix: Template | None  # an ErrorOutputPrefix with expressions; None: base + type + time
    error_base: str  # the literal ErrorOutputPrefix (or Prefix) that the default error layout starts with

    def data_prefix(self, when: datetime, *, query_keys: dict[str, str] | None = None,
                    lambda_keys: dict[str, str] | None = None) -> str:
        if not self.prefix.expressions:
            return self.prefix.text + format_time(DEFAULT_TIME_PREFIX, when)
        return evaluate(self.prefix, when, query_keys=query_keys, lambda_keys=lambda_keys)

    def error_prefix_for(self, error_type: str, when: datetime) -> str:
        if self.error_prefix is None:
            return f"{self.error_base}{error_type}/" + format_time(DEFAULT_TIME_PREFIX, when)
        return evaluate(self.error_prefix, when, error_type=error_type)


def key_plan(prefix: str, error_output_prefix: str | None, *, dynamic_partitioning: bool,
             query_keys: list[str], lambda_keys: bool) -> KeyPlan:
    """Check a destination's Prefix and ErrorOutputPrefix against Firehose's rules, once."""
    data = parse(prefix, "Prefix")
    if data.uses("firehose", ERROR_TYPE):
        raise InvalidArgumentException(
            f"Prefix {prefix!r} must not use !{{firehose:{ERROR_TYPE}}}; it belongs in ErrorOutputPrefix")
    if data.expressions and error_output_prefix is None:
        raise InvalidArgumentException(
            f"Prefix {prefix!r} has expressions, so ErrorOutputPrefix is required "
            f"(for example 'errors/!{{firehose:{ERROR_TYPE}}}/!{{timestamp:yyyy/MM/dd}}/')")
    used_query = data.keys("partitionKeyFromQuery")
    used_lambda = data.keys("partitionKeyFromLambda")
    if (used_query or used_lambda) and not dynamic_partitioning:
        raise InvalidArgumentException(
            f"Prefix {prefix!r} uses partition keys; enable DynamicPartitioningConfiguration to use them")
    if dynamic_partitioning and not (used_query or used_lambda):
        raise InvalidArgumentException(
            "dynamic partitioning is enabled, so Prefix must hold at least one "
            "!{partitionKeyFromQuery:KEY} or !{partitionKeyFromLambda:KEY} expression")
    unknown = sorted(set(used_query) - set(query_keys))
    if unknown:
        known = ", ".join(query_keys) or "none: add a MetadataExtraction processor"
        raise InvalidArgumentException(
            f"Prefix {prefix!r} uses partition key(s) {', '.join(unknown)} that the MetadataExtractionQuery "
            f"does not define (it defines: {known})")
    if used_lambda and not lambda_keys:
        raise InvalidArgumentException(
            f"Prefix {prefix!r} uses !{{partitionKeyFromLambda:…}} but no Lambda processor is configured")
    if error_output_prefix is None:
        return KeyPlan(data, None, prefix)
    errors = parse(error_output_prefix, "ErrorOutputPrefix")
    if errors.uses("partitionKeyFromQuery") or errors.uses("partitionKeyFromLambda"):
        raise InvalidArgumentException(
            f"ErrorOutputPrefix {error_output_prefix!r} must not use partition keys (failed records have none)")
    if not errors.expressions:
        return KeyPlan(data, None, error_output_prefix)
    if not errors.uses("firehose", ERROR_TYPE):
        raise InvalidArgumentException(
            f"ErrorOutputPrefix {error_output_prefix!r} has expressions, so it must hold "
            f"!{{firehose:{ERROR_TYPE}}} at least once")
    return KeyPlan(data, errors, error_output_prefix)
