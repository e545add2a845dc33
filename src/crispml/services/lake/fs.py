"""``lake://bucket/key``: the lake as an fsspec filesystem.

pandas, pyarrow and every later service read and write lake objects through
this class, and it calls nothing but lake operations, as one caller (the
context it was built with: ``LakeService.filesystem(ctx)``), so each open, read,
write, listing or delete is authorized, audited and measured like any other
call — one GetObject per opened file, not per range read. Written here because fsspec has no filesystem for our own
object API; fsspec supplies the rest (globbing, walking, ``open`` modes,
pandas/pyarrow integration).

Writes stream: bytes written to an open ``wb`` file flow through a bounded
queue into one PutObject running on a helper thread, so a large file is never
held in memory, and an exception inside the ``with`` block abandons the upload
(nothing becomes visible). Directories are implied by ``/`` in keys, as in S3;
the top level lists buckets.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractFileSystem

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, NotFound
from crispml.services.lake.specs import (
    BucketRequest,
    CopyObjectRequest,
    CreateBucketRequest,
    Delete,
    DeleteObjectRequest,
    DeleteObjectsRequest,
    GetObjectRequest,
    ListBucketsRequest,
    ListObjectsV2Request,
    ListObjectsV2Response,
    ObjectIdentifier,
    ObjectVersionRequest,
    PutObjectRequest,
    PutObjectResponse,
)

if TYPE_CHECKING:
    from crispml.services.lake.service import LakeService

_QUEUE_CHUNKS = 4
_WRITE_BUFFER = 4 * 1024 * 1024
_ABORT = object()


def split_path(path: str) -> tuple[str, str]:
    """``bucket/key/…`` (protocol already stripped) → (bucket, key)."""
    path = path.lstrip("/")
    bucket, _, key = path.partition("/")
    return bucket, key


class LakeFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem over lake operations, as one caller; ``lake://bucket/key``.

    Built by :meth:`LakeService.filesystem`; the fsspec entry point
    (``crispml.lakefs``) builds one for a client or a home.
    """

    protocol = "lake"
    root_marker = ""

    def __init__(self, lake: LakeService, ctx: CallContext, **storage_options: Any) -> None:
        super().__init__(**storage_options)
        self.lake = lake
        self.ctx = ctx

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        text = str(path)
        if text.startswith("lake://"):
            text = text[len("lake://"):]
        return text.lstrip("/").rstrip("/") if text not in ("", "/") else ""

    def unstrip_protocol(self, name: str) -> str:
        return f"lake://{name}"

    # -- listing ------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not path:
            entries = [{"name": b.name, "type": "directory", "size": 0, "created": b.creation_date}
                       for b in self.lake.list_buckets(self.ctx, ListBucketsRequest()).buckets]
            return entries if detail else [e["name"] for e in entries]
        bucket, key = split_path(path)
        prefix = f"{key}/" if key else ""
        entries = []
        for page in self._pages(bucket, prefix, "/"):
            entries += [{"name": f"{bucket}/{p.prefix.rstrip('/')}", "type": "directory", "size": 0}
                        for p in page.common_prefixes]
            entries += [self._file_entry(bucket, o) for o in page.contents]
        if not entries and key:
            info = self.info(path)  # a single file, or FileNotFoundError
            entries = [info]
        return entries if detail else [e["name"] for e in entries]

    def _pages(self, bucket: str, prefix: str, delimiter: str | None) -> Iterator[ListObjectsV2Response]:
        token = None
        while True:
            try:
                page = self.lake.list_objects_v2(self.ctx, ListObjectsV2Request(
                    bucket=bucket, prefix=prefix, delimiter=delimiter, continuation_token=token))
            except NotFound as exc:
                raise FileNotFoundError(f"lake://{bucket}: {exc.message}") from exc
            yield page
            if not page.is_truncated:
                return
            token = page.next_continuation_token

    @staticmethod
    def _file_entry(bucket: str, obj: Any) -> dict[str, Any]:
        return {"name": f"{bucket}/{obj.key}", "type": "file", "size": obj.size, "ETag": obj.etag,
                "LastModified": obj.last_modified, "StorageClass": obj.storage_class}

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False,
             **kwargs: Any) -> Any:
        if maxdepth is not None or withdirs:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        path = self._strip_protocol(path)
        if not path:
            return super().find(path, detail=detail, **kwargs)
        bucket, key = split_path(path)
        found: dict[str, Any] = {}
        if key:
            with contextlib.suppress(FileNotFoundError):
                info = self.info(path)
                if info["type"] == "file":
                    found[info["name"]] = info
        prefix = f"{key}/" if key else ""
        for page in self._pages(bucket, prefix, None):
            for obj in page.contents:
                entry = self._file_entry(bucket, obj)
                found[entry["name"]] = entry
        return found if detail else sorted(found)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "type": "directory", "size": 0}
        bucket, key = split_path(path)
        try:
            if not key:
                head = self.lake.head_bucket(self.ctx, BucketRequest(bucket=bucket))
                return {"name": bucket, "type": "directory", "size": 0, "created": head.creation_date}
            try:
                obj = self.lake.head_object(self.ctx, ObjectVersionRequest(bucket=bucket, key=key))
                return {"name": path, "type": "file", "size": obj.content_length, "ETag": obj.etag,
                        "LastModified": obj.last_modified, "ContentType": obj.content_type,
                        "StorageClass": obj.storage_class, "VersionId": obj.version_id}
            except NotFound:
                page = self.lake.list_objects_v2(self.ctx, ListObjectsV2Request(bucket=bucket, prefix=f"{key}/",
                                                                                max_keys=1))
                if page.key_count:
                    return {"name": path, "type": "directory", "size": 0}
                raise
        except NotFound as exc:
            raise FileNotFoundError(f"lake://{path}: {exc.message}") from exc

    def modified(self, path: str) -> Any:
        return self.info(path).get("LastModified")

    # -- reading --------------------------------------------------------------

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, autocommit: bool = True,
              cache_options: Any = None, **kwargs: Any) -> Any:
        bucket, key = split_path(self._strip_protocol(path))
        if "r" in mode:
            try:
                response = self.lake.get_object(self.ctx, GetObjectRequest(bucket=bucket, key=key,
                                                                           version_id=kwargs.get("version_id")))
            except NotFound as exc:
                raise FileNotFoundError(f"lake://{bucket}/{key}: {exc.message}") from exc
            reader = io.BufferedReader(response.body, buffer_size=block_size or 1024 * 1024)
            return reader
        if "w" in mode:
            return LakeWriter(self, bucket, key, **_put_fields(kwargs))
        raise ValueError(f"lake:// files open for 'rb' or 'wb', not {mode!r}")

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        bucket, key = split_path(self._strip_protocol(path))
        byte_range = None
        if start is not None or end is not None:
            size = self.info(path)["size"]
            first = (size + start) if start is not None and start < 0 else (start or 0)
            last = size if end is None else (size + end if end < 0 else min(end, size))
            if last <= first:
                return b""
            byte_range = f"bytes={first}-{last - 1}"
        try:
            request = GetObjectRequest(bucket=bucket, key=key, range=byte_range)
            with self.lake.get_object(self.ctx, request).body as body:
                data: bytes = body.read()
                return data
        except NotFound as exc:
            raise FileNotFoundError(f"lake://{bucket}/{key}: {exc.message}") from exc

    def get_file(self, rpath: str, lpath: str, callback: Any = None, outfile: Any = None, **kwargs: Any) -> None:
        bucket, key = split_path(self._strip_protocol(rpath))
        try:
            response = self.lake.get_object(self.ctx, GetObjectRequest(bucket=bucket, key=key)) if key else None
        except NotFound as exc:
            if self.isdir(rpath):
                response = None
            else:
                raise FileNotFoundError(f"lake://{bucket}/{key}: {exc.message}") from exc
        if response is None:  # a folder: fsspec's recursive get makes its local twin
            os.makedirs(lpath, exist_ok=True)
            return
        with response.body as body:
            if outfile is not None:
                shutil.copyfileobj(body, outfile, 8 * 1024 * 1024)
                return
            with open(lpath, "wb") as out:
                _copy(body, out)

    # -- writing --------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        bucket, key = split_path(self._strip_protocol(path))
        self._put(bucket, key, value, **_put_fields(kwargs))

    def put_file(self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite",
                 **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return  # S3 has no directories; keys imply them
        bucket, key = split_path(self._strip_protocol(rpath))
        with open(lpath, "rb") as source:
            self._put(bucket, key, source, **_put_fields(kwargs))

    def _put(self, bucket: str, key: str, body: Any, **fields: Any) -> PutObjectResponse:
        try:
            return self.lake.put_object(self.ctx, PutObjectRequest(bucket=bucket, key=key, body=body, **fields))
        except NotFound as exc:
            raise FileNotFoundError(f"lake://{bucket}/{key}: {exc.message}") from exc

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        source_bucket, source_key = split_path(self._strip_protocol(path1))
        bucket, key = split_path(self._strip_protocol(path2))
        try:
            self.lake.copy_object(self.ctx, CopyObjectRequest(bucket=bucket, key=key,
                                                              copy_source=f"{source_bucket}/{source_key}"))
        except NotFound as exc:
            raise FileNotFoundError(f"lake://{path1} -> lake://{path2}: {exc.message}") from exc

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        bucket, key = split_path(self._strip_protocol(path))
        if not key:
            self.lake.create_bucket(self.ctx, CreateBucketRequest(bucket=bucket))

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        bucket, _ = split_path(self._strip_protocol(path))
        try:
            self.lake.head_bucket(self.ctx, BucketRequest(bucket=bucket))
        except NotFound:
            self.lake.create_bucket(self.ctx, CreateBucketRequest(bucket=bucket))

    # -- deleting ---------------------------------------------------------------

    def rm_file(self, path: str) -> None:
        bucket, key = split_path(self._strip_protocol(path))
        self.lake.delete_object(self.ctx, DeleteObjectRequest(bucket=bucket, key=key))

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        paths = path if isinstance(path, list) else [path]
        by_bucket: dict[str, list[str]] = {}
        for p in paths:
            stripped = self._strip_protocol(p)
            bucket, key = split_path(stripped)
            if recursive:
                keys = [split_path(f)[1] for f in self.find(stripped)]
            elif self.isfile(stripped):
                keys = [key]
            else:
                raise IsADirectoryError(f"lake://{stripped} is a folder; pass recursive=True to remove it")
            by_bucket.setdefault(bucket, []).extend(keys)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):
                batch = [ObjectIdentifier(key=k) for k in keys[start:start + 1000]]
                self.lake.delete_objects(self.ctx, DeleteObjectsRequest(bucket=bucket,
                                                                        delete=Delete(objects=batch, quiet=True)))
        self.invalidate_cache()

    def rmdir(self, path: str) -> None:
        bucket, key = split_path(self._strip_protocol(path))
        if not key:
            self.lake.delete_bucket(self.ctx, BucketRequest(bucket=bucket))


def _put_fields(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = ("content_type", "metadata", "tagging", "storage_class")
    return {k: v for k, v in kwargs.items() if k in allowed and v is not None}


def _copy(body: Any, out: Any) -> None:
    """Copy a body to a local file, with sendfile when the body is a whole local file."""
    handle = getattr(body, "_handle", None)
    fileno = getattr(handle, "fileno", None)
    if fileno is not None and body.tell() == 0 and getattr(body, "_start", 1) == 0:
        try:
            in_fd, out_fd = fileno(), out.fileno()
        except (OSError, io.UnsupportedOperation):
            in_fd = -1
        if in_fd >= 0:
            offset, remaining = 0, body.length
            while remaining > 0:
                sent = os.sendfile(out_fd, in_fd, offset, min(remaining, 1 << 30))
                if sent == 0:
                    break
                offset += sent
                remaining -= sent
            return
    shutil.copyfileobj(body, out, 8 * 1024 * 1024)


class _QueueReader(io.RawIOBase):
    """The reading end of a LakeWriter: yields what the writer queued, or fails if it aborted."""

    def __init__(self, chunks: queue.Queue[Any]) -> None:
        super().__init__()
        self._chunks = chunks
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        item = self._chunks.get()
        if item is None:
            self._done = True
            return b""
        if item is _ABORT:
            self._done = True
            raise _Aborted("the writer was closed with an error; the upload is abandoned")
        data: bytes = item
        return data


class _Aborted(Exception):
    """The writer gave up; the upload reading from it must fail."""


class LakeWriter(io.RawIOBase):
    """A ``wb`` file on the lake: bytes stream into one PutObject; visible only after close().

    The upload runs on a thread of its own once more than one write buffer was written; a file that
    fits in one buffer (most query results) is put by close() in the caller's thread, with no thread.
    """

    def __init__(self, fs: LakeFileSystem, bucket: str, key: str, **fields: Any) -> None:
        super().__init__()
        self.path = f"{bucket}/{key}"
        self._target = (fs, bucket, key, fields)
        self._chunks: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._buffer = bytearray()
        self._written = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _start(self) -> threading.Thread:
        if self._thread is None:
            self._thread = threading.Thread(target=self._upload, name=f"lake-put-{self._target[2]}", daemon=True)
            self._thread.start()
        return self._thread

    def _upload(self) -> None:
        fs, bucket, key, fields = self._target
        try:
            fs._put(bucket, key, _QueueReader(self._chunks), **fields)
        except BaseException as exc:
            self._error = exc
            # drain so a writer blocked on a full queue wakes up
            while True:
                try:
                    self._chunks.get_nowait()
                except queue.Empty:
                    break

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed lake file")
        self._raise_upload_error()
        view = memoryview(data).cast("B")
        self._buffer += view
        self._written += len(view)
        if len(self._buffer) >= _WRITE_BUFFER:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        return len(view)

    def _send(self, item: Any) -> None:
        thread = self._start()
        while thread.is_alive():
            try:
                self._chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        self._raise_upload_error()

    def _raise_upload_error(self) -> None:
        if self._error is not None:
            error = self._error
            if isinstance(error, CrispmlError | OSError):
                raise error
            raise OSError(f"upload of lake://{self.path} failed: {error}") from error

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._thread is None:  # it all fits in one buffer: one put, here
                fs, bucket, key, fields = self._target
                fs._put(bucket, key, bytes(self._buffer), **fields)
                return
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer.clear()
            self._send(None)
            self._thread.join()
            self._raise_upload_error()
        finally:
            super().close()

    def discard(self) -> None:
        """Abandon the upload: nothing becomes visible under the key."""
        if self.closed:
            return
        if self._thread is not None:
            self._send(_ABORT)
            self._thread.join()
        super().close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()
