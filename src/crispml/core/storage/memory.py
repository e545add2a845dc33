"""The ``memory://`` blob store: blobs in a process-wide dict, for tests and demos.

Every store opened with the same ``memory://name`` URL in one process sees the
same blobs; a lock makes each primitive atomic across threads. A write collects
all chunks before storing them, so a failed write stores nothing.

It does not persist anything, share blobs between processes, or bound its
memory: a blob lives until deleted or the process ends.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING

from crispml.core.errors import InvalidArgument
from crispml.core.storage.base import BlobStore

if TYPE_CHECKING:
    from crispml.core.config import Settings

#: Blobs of every memory store in this process, by store name, then by key.
_STORES: dict[str, dict[str, bytes]] = {}
_LOCK = threading.Lock()


class MemoryBlobStore(BlobStore):
    """Bytes by key in this process's memory, shared by every store of the same name."""

    scheme = "memory"

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        name = url.partition("://")[2].strip("/")
        if not name:
            raise InvalidArgument(f"memory URL {url!r} names no store; use memory://NAME")
        self.name = name
        with _LOCK:
            self._blobs = _STORES.setdefault(name, {})

    def _check(self, key: str) -> str:
        if not key or "" in key.split("/") or ".." in key.split("/"):
            raise InvalidArgument(f"blob key {key!r} is not a plain relative key")
        return key

    def _write(self, key: str, chunks: Iterable[bytes]) -> None:
        self._check(key)
        data = b"".join(chunks)  # the source is drained first: a failure stores nothing
        with _LOCK:
            self._blobs[key] = data

    def open(self, key: str) -> IO[bytes]:
        with _LOCK:
            data = self._blobs[self._check(key)]
        return io.BytesIO(data)

    def size(self, key: str) -> int:
        with _LOCK:
            return len(self._blobs[self._check(key)])

    def delete(self, key: str) -> None:
        with _LOCK:
            self._blobs.pop(self._check(key), None)

    def copy(self, source_key: str, target_key: str) -> None:
        self._check(target_key)
        with _LOCK:
            self._blobs[target_key] = self._blobs[self._check(source_key)]

    def exists(self, key: str) -> bool:
        with _LOCK:
            return self._check(key) in self._blobs

    def list(self, prefix: str = "") -> Iterator[str]:
        with _LOCK:
            keys = [key for key in self._blobs if key.startswith(prefix)]
        yield from keys

    def check(self) -> None:
        """Always reachable: the blobs live in this process."""
