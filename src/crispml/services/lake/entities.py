"""Lake value objects returned to callers, and the streaming body of an object."""

from __future__ import annotations

import io
from datetime import datetime
from typing import IO, Any

from pydantic import BaseModel

from crispml.services.lake.errors import NoSuchKey


class Bucket(BaseModel):
    name: str
    creation_date: datetime


class ObjectSummary(BaseModel):
    """One entry of ListObjectsV2."""

    key: str
    last_modified: datetime
    etag: str
    size: int
    storage_class: str


class CommonPrefix(BaseModel):
    prefix: str


class ObjectVersion(BaseModel):
    """One entry of ListObjectVersions (an object version or a delete marker)."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    etag: str | None = None
    size: int | None = None
    storage_class: str | None = None


class Tag(BaseModel):
    key: str
    value: str


class Upload(BaseModel):
    upload_id: str
    key: str
    initiated: datetime
    storage_class: str


class Part(BaseModel):
    part_number: int
    etag: str
    size: int
    last_modified: datetime


class ObjectBody(io.RawIOBase):
    """The bytes of an object (or of a byte range of it): a seekable binary reader.

    Positions are relative to the start of the range. Closing it closes the
    underlying blob handle. Use it as a context manager, or read it whole with
    :meth:`read`.
    """

    def __init__(self, handle: IO[bytes], start: int, length: int, name: str = "") -> None:
        super().__init__()
        self.name = name
        self._handle = handle
        self._start = start
        self._length = length
        self._pos = 0
        handle.seek(start)

    @property
    def length(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        self._handle.seek(self._start + min(self._pos, self._length))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        remaining = self._length - self._pos
        if remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), remaining)]
        data = self._read(len(view))
        n = len(data)
        view[:n] = data
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._pos
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size <= 0:
            return b""
        data = self._read(size)
        self._pos += len(data)
        return data

    def _read(self, size: int) -> bytes:
        try:
            data: bytes = self._handle.read(size)
        except (KeyError, FileNotFoundError) as exc:
            # the version's bytes were removed (overwritten in an unversioned bucket) mid-read
            raise NoSuchKey(
                f"object {self.name!r} was overwritten or deleted while it was being read; read it again"
            ) from exc
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def iter_chunks(self, chunk_size: int = 8 * 1024 * 1024) -> Any:
        while chunk := self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()
