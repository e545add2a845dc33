"""Dynamic partitioning: partition keys taken from each record's JSON by a MetadataExtractionQuery.

Firehose evaluates the query with jq 1.6; crispml reads the subset that
partition keys are made of — an object of keys and simple paths::

    {customer_id: .customer_id, day: .event.day, region: ."the region"}
    {customer_id}                                 # short for {customer_id: .customer_id}

A path is ``.`` followed by fields (``.a.b``; ``."a field"`` quoted), nothing
else: no indexes, pipes or functions. A key's value must be a string, a number
or a boolean (its JSON text); a record that is not a JSON object, or lacks a key
or holds null, an object or an array there — or a value that cannot be part of
an object key (empty, ``.``, ``..``, or holding ``/``) — cannot be partitioned
and goes to the error output. Written here because a jq engine would be a native dependency
for a grammar of a few lines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from crispml.services.firehose.errors import InvalidArgumentException

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SEGMENT = re.compile(rf'\.(?:({_IDENT})|"((?:[^"\\]|\\.)*)")')
_ENTRY = re.compile(rf'\s*({_IDENT})\s*(?::\s*((?:\.(?:{_IDENT}|"(?:[^"\\]|\\.)*"))+)\s*)?(?:,|$)')


_MAX_VALUE = 512


class PartitionError(ValueError):
    """A record whose partition keys cannot be read, with the reason."""


@dataclass(frozen=True)
class ExtractionQuery:
    """A parsed MetadataExtractionQuery: each key and the path to its field."""

    text: str
    paths: dict[str, tuple[str, ...]]

    @property
    def keys(self) -> list[str]:
        return list(self.paths)

    def evaluate(self, data: bytes) -> dict[str, str]:
        """The record's partition keys; PartitionError says why there are none."""
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PartitionError(f"the record is not JSON: {exc}") from None
        keys = {}
        for key, path in self.paths.items():
            value: Any = document
            for segment in path:
                if not isinstance(value, dict):
                    value = None
                    break
                value = value.get(segment)
            if value is None or isinstance(value, dict | list):
                shown = "." + ".".join(path)
                what = "no value" if value is None else "an object or array"
                raise PartitionError(f"partition key {key!r}: {shown} holds {what}; it needs a string or number")
            keys[key] = check_value(key, value if isinstance(value, str) else json.dumps(value))
        return keys


def check_value(key: str, text: str) -> str:
    """A partition key's value, if it can be part of an object key; PartitionError if not."""
    if not text or text in (".", "..") or "/" in text or "\x00" in text or len(text) > _MAX_VALUE:
        raise PartitionError(
            f"partition key {key!r}: {text[:40]!r} cannot be part of an object key (it must be 1-"
            f"{_MAX_VALUE} characters without '/', and not '.' or '..')")
    return text


def parse_query(text: str) -> ExtractionQuery:
    """Parse a MetadataExtractionQuery of the subset above."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")) or not body[1:-1].strip():
        raise InvalidArgumentException(
            f"MetadataExtractionQuery {text!r} is not supported; write an object of keys and paths, "
            "e.g. '{customer_id: .customer_id, day: .event.day}'")
    inner, at, paths = body[1:-1], 0, {}
    while at < len(inner):
        match = _ENTRY.match(inner, at)
        if match is None or match.end() == at:
            raise InvalidArgumentException(
                f"MetadataExtractionQuery {text!r}: cannot read {inner[at:].strip()[:30]!r}; each entry is "
                "'key: .path.to.field' (or just 'key' for '.key')")
        key, path = match.group(1), match.group(2)
        if key in paths:
            raise InvalidArgumentException(f"MetadataExtractionQuery {text!r} defines {key!r} twice")
        paths[key] = _segments(path) if path else (key,)
        at = match.end()
    return ExtractionQuery(text, paths)


def _segments(path: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else json.loads(f'"{m.group(2)}"')
                 for m in _SEGMENT.finditer(path))
