"""Opaque page tokens (NextToken, ContinuationToken): a JSON position, base64-encoded.

Services decide what a position is (a key, a name, a time and id) and which
typed error a bad token raises; this module only encodes and decodes, so all
tokens are made the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def encode_token(position: Any) -> str:
    """A token for ``position`` (anything JSON can hold)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str) -> Any:
    """The position a token stands for; ValueError if it is not a token this module made."""
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a page token: {token!r}") from exc


def offset_of(token: str | None, error: Callable[[str], Exception]) -> int:
    """The row offset a token from :func:`offset_token` stands for (0 without one); ``error(message)`` is raised
    for a token this module did not make that way."""
    if not token:
        return 0
    try:
        return int(decode_token(token)["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise error(f"NextToken {token!r} is not one this call returned") from exc


def offset_token(offset: int) -> str:
    """A token for the page that starts at row ``offset`` of a listing."""
    return encode_token({"offset": offset})


def offset_page(rows: list[T], token: str | None, size: int,
                error: Callable[[str], Exception]) -> tuple[list[T], str | None]:
    """The page of ``rows`` (already filtered and sorted) from ``token``'s offset, and the next page's token
    (None on the last page): the List operations that sort in memory."""
    start = offset_of(token, error)
    end = start + size
    return rows[start:end], offset_token(end) if end < len(rows) else None
