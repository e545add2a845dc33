"""Prefixed, time-sortable ids: ``evt-01JD3Z…``.

The body is a ULID (48 bits of milliseconds, 80 random bits) in Crockford
base32, so ids sort by creation time as plain strings in every database. Written
here because it is twenty lines and no well-kept library is worth a dependency
for it.
"""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def ulid() -> str:
    """A 26-character ULID; monotonic within one process."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand += 1
        else:
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        _last_ms = ms
        return _encode(ms, 10) + _encode(_last_rand, 16)


_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")


def new_id(prefix: str) -> str:
    """A new id such as ``req-01JD3Z5K9X…``; the prefix names the kind of thing."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"id prefix {prefix!r} must be 1-16 lowercase letters or digits")
    return f"{prefix}-{ulid()}"
