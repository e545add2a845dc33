"""Opaque page tokens (NextToken, ContinuationToken): a JSON position, base64-encoded.

Services decide what a position is (a key, a name, a time and id) and which
typed error a bad token raises; this module only encodes and decodes, so all
tokens are made the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def encode_token(position: Any) -> str:
    """A token for ``position`` (anything JSON can hold)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str) -> Any:
    """The position a token stands for; ValueError if it is not a token this module made."""
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a page token: {token!r}") from exc
