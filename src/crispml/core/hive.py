"""Conventions of tables kept as files in the lake, shared by every service that reads or writes them
(the catalog, the query engine, loads, deliveries): a table's location is a lake prefix, a partition is
a Hive ``key=value/`` folder under it, and CSV readers take a few texts for NULL.

Only the conventions live here; which tables exist and what they hold is the catalog's.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from crispml.core.errors import CrispmlError, InvalidArgument

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

#: Field texts read as NULL in CSV tables (besides the empty field), by crawlers, queries and loads alike.
NULL_TOKENS = frozenset({"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "\\N"})


def check_location(location: str, *, what: str = "location", example: str = "lake://bucket/prefix/",
                   error: type[CrispmlError] = InvalidArgument) -> str:
    """A lake prefix as ``lake://bucket/prefix/``; ``s3://`` is accepted as the same lake. ``what``,
    ``example`` and ``error`` let each service refuse in its own words (Glue's InvalidInputException,
    Athena's output location)."""
    text = location.strip()
    for scheme in ("lake://", "s3://", "s3a://"):
        if text.startswith(scheme):
            rest = text[len(scheme):]
            break
    else:
        raise error(f"{what} {location!r} must be a lake prefix, e.g. '{example}' "
                    f"(or '{example.replace('lake://', 's3://')}')")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise error(f"{what} {location!r} does not name a valid bucket ({bucket!r})")
    segments = [s for s in prefix.split("/") if s]
    if any(s in (".", "..") for s in segments) or "//" in prefix:
        raise error(f"{what} {location!r} must not hold empty, '.' or '..' segments")
    path = "/".join(segments)
    return f"lake://{bucket}/{path}/" if path else f"lake://{bucket}/"


def location_bucket(location: str) -> str:
    """The bucket of a normalised ``lake://bucket/prefix/`` location."""
    return location[len("lake://"):].split("/", 1)[0]


def partition_path(keys: list[str], values: list[str]) -> str:
    """Hive's folder for a partition: ``year=2024/month=01/`` (values escaped as Hive does)."""
    return "".join(f"{k}={quote(v, safe=' ')}/" for k, v in zip(keys, values, strict=True))
