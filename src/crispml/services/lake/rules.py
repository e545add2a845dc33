"""S3's rules for names, keys, ranges, tags and metadata, checked once at the boundary."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from crispml.core.errors import InvalidArgument
from crispml.services.lake.errors import InvalidBucketName, InvalidKey, InvalidRange, KeyTooLong

StorageClass = Literal["STANDARD", "STANDARD_IA", "GLACIER"]
STORAGE_CLASSES: tuple[str, ...] = ("STANDARD", "STANDARD_IA", "GLACIER")
#: Storage classes that cannot be read until restored.
ARCHIVED = frozenset({"GLACIER"})

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
MAX_TAGS = 10


def check_bucket_name(name: str) -> str:
    """S3 general-purpose bucket naming rules; raise InvalidBucketName saying which one broke."""
    rules = (
        "3-63 characters of lowercase letters, digits, dots and hyphens, "
        "starting and ending with a letter or digit"
    )
    problem = None
    if not _BUCKET.match(name):
        problem = f"it must be {rules}"
    elif ".." in name:
        problem = "it must not contain two adjacent dots"
    elif ".-" in name or "-." in name:
        problem = "a dot must not be next to a hyphen"
    elif name.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        problem = "it must not start with 'xn--', 'sthree-' or 'amzn-s3-demo-'"
    elif name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        problem = "it must not end with '-s3alias', '--ol-s3', '.mrap', '--x-s3' or '--table-s3'"
    elif _is_ipv4(name):
        problem = "it must not look like an IP address"
    if problem:
        raise InvalidBucketName(f"invalid bucket name {name!r}: {problem}")
    return name


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> str:
    """Object keys: 1-1024 UTF-8 bytes, no '.' or '..' path segments, no NUL."""
    if not key:
        raise InvalidKey("object key must not be empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise KeyTooLong(f"object key is {len(key.encode('utf-8'))} bytes; the limit is {MAX_KEY_BYTES}")
    if "\x00" in key:
        raise InvalidKey("object key must not contain a NUL character")
    if any(part in (".", "..") for part in key.split("/")):
        raise InvalidKey(
            f"object key {key!r} has a '.' or '..' segment, which could escape the bucket; "
            "use a plain key such as 'data/train.csv'"
        )
    return key


def check_prefix(prefix: str) -> str:
    if any(part == ".." for part in prefix.split("/")):
        raise InvalidKey(f"prefix {prefix!r} has a '..' segment; prefixes cannot leave the bucket")
    return prefix


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` → (start, end exclusive) within ``size``."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.groups() == ("", ""):
        raise InvalidRange(f"range {header!r} is not of the form 'bytes=START-END', 'bytes=START-' or 'bytes=-N'")
    first, last = match.groups()
    if first == "":
        length = int(last)
        start, end = max(0, size - length), size
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
        if last != "" and int(last) < start:
            raise InvalidRange(f"range {header!r} ends before it starts")
    if start >= size:
        # also every range of an empty object: S3 answers 416 there, as no byte can be served
        raise InvalidRange(f"range {header!r} starts at or past the end of the object ({size} bytes)")
    return start, end


def parse_tagging(tagging: str | dict[str, str] | None) -> dict[str, str]:
    """Tags from S3's ``k1=v1&k2=v2`` form (or a dict), checked against S3's limits."""
    if tagging is None or tagging == "":
        return {}
    tags = dict(parse_qsl(tagging, keep_blank_values=True)) if isinstance(tagging, str) else dict(tagging)
    return check_tags(tags)


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise InvalidArgument(f"an object can have at most {MAX_TAGS} tags; got {len(tags)}")
    for k, v in tags.items():
        if not 1 <= len(k) <= 128:
            raise InvalidArgument(f"tag key {k!r} must be 1-128 characters")
        if len(v) > 256:
            raise InvalidArgument(f"tag value for {k!r} must be at most 256 characters")
    return tags


def format_tagging(tags: dict[str, str]) -> str:
    return urlencode(sorted(tags.items()))


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    cleaned = {str(k).lower(): str(v) for k, v in metadata.items()}
    total = sum(len(k.encode()) + len(v.encode()) for k, v in cleaned.items())
    if total > MAX_METADATA_BYTES:
        raise InvalidArgument(f"user metadata is {total} bytes; S3 allows at most {MAX_METADATA_BYTES}")
    return cleaned


def check_body(body: object) -> object:
    """A body is bytes, a binary file-like object, or an iterable of bytes chunks (or None: empty)."""
    if body is None or isinstance(body, bytes | bytearray | memoryview) or hasattr(body, "read"):
        return body
    if isinstance(body, str):
        raise InvalidArgument("body is a str; pass bytes (encode it) or a file opened in 'rb' mode")
    if hasattr(body, "__iter__"):
        return body
    raise InvalidArgument(
        f"body must be bytes, a binary file or an iterable of bytes chunks, not {type(body).__name__}"
    )
