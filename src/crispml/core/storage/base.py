"""The abstract blob store and the work every backend shares.

Implementations provide primitives only (write chunks atomically under a key,
open for reading, delete, copy, list, check). The base does the shared work:
MD5 and size while streaming (hashing on a second thread so it overlaps the
write), reading sources of any shape, and translating library errors.

A blob written with :meth:`BlobStore.write` is visible whole or not at all: a
process killed halfway leaves at most an invisible temporary, never a partial
blob under its key.
"""

from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

from crispml.core.errors import InvalidArgument
from crispml.core.plugins import BLOB_STORES

if TYPE_CHECKING:
    from crispml.core.config import Settings

#: Bytes read from a source at a time while streaming a write.
CHUNK_SIZE = 8 * 1024 * 1024
#: Chunks smaller than this are hashed inline rather than on the second thread.
INLINE_HASH = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    """What a finished write learned about the bytes: their size and MD5 (hex)."""

    size: int
    md5: str


Source = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]


class BlobStore(ABC):
    """Bytes by key under one root URL; the lake's only way to touch storage."""

    scheme: ClassVar[str]

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = url
        self.settings = settings

    # -- shared work -------------------------------------------------------

    def write(self, key: str, source: Source) -> BlobInfo:
        """Stream ``source`` into the blob ``key`` atomically; return its size and MD5."""
        md5 = hashlib.md5(usedforsecurity=False)
        counter = _Counter()
        self._write(key, _hashed(_chunks(source), md5, counter))
        return BlobInfo(size=counter.size, md5=md5.hexdigest())

    def read_bytes(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a blob (``end=None``: to the end)."""
        with self.open(key) as handle:
            handle.seek(start)
            return handle.read() if end is None else handle.read(max(0, end - start))

    def local_path(self, key: str) -> str | None:
        """A real file path for trusted fast readers, or None if the bytes are not local."""
        return None

    # -- primitives --------------------------------------------------------

    @abstractmethod
    def _write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Write all chunks under ``key``; visible only once complete."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A seekable binary reader over the blob; NotFound-style KeyError if missing."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The blob's size in bytes; KeyError if missing."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""

    @abstractmethod
    def copy(self, source_key: str, target_key: str) -> None:
        """Copy a blob to a new key atomically (server-side where the store can)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key``."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys of complete blobs under ``prefix``, in no promised order."""

    @abstractmethod
    def check(self) -> None:
        """Raise Unavailable, saying what to do, if the store cannot be reached."""


class _Counter:
    size = 0


def _chunks(source: Any) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])
        return
    read = getattr(source, "read", None)
    if read is not None:
        # readinto into fresh buffers avoids an extra copy on large reads
        while True:
            chunk = read(CHUNK_SIZE)
            if not chunk:
                return
            if isinstance(chunk, str):
                raise InvalidArgument("a text stream was given where bytes were expected; open the file in 'rb' mode")
            yield chunk
        return
    if isinstance(source, str):
        raise InvalidArgument("a str was given where bytes were expected; encode it first")
    for chunk in source:
        if chunk:
            yield bytes(chunk)


def _hashed(chunks: Iterator[bytes], md5: Any, counter: _Counter) -> Iterator[bytes]:
    """Yield chunks while MD5 runs on a second thread (hashlib releases the GIL).

    Chunks under :data:`INLINE_HASH` are hashed on the calling thread: starting
    a thread costs more than hashing them, and a small object never needs one.
    """
    pool: ThreadPoolExecutor | None = None
    pending: Future[None] | None = None
    try:
        for chunk in chunks:
            if pending is not None:
                pending.result()  # chunks reach the hash in order
                pending = None
            if len(chunk) < INLINE_HASH:
                md5.update(chunk)
            else:
                if pool is None:
                    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="md5")
                pending = pool.submit(md5.update, chunk)
            counter.size += len(chunk)
            yield chunk
        if pending is not None:
            pending.result()
    finally:
        if pool is not None:
            pool.shutdown()


def open_blob_store(url: str, settings: Settings | None = None) -> BlobStore:
    """The blob store for ``url``, chosen by its scheme (``file://``, ``s3://``, ``memory://``)."""
    cls = BLOB_STORES.resolve(url)
    store: BlobStore = cls(url, settings)
    return store


def as_reader(data: bytes) -> IO[bytes]:
    return io.BytesIO(data)
