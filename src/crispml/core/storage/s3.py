"""The ``s3://bucket/prefix`` blob store, over any S3-compatible server via s3fs.

Blob ``k`` is the object ``prefix/k`` in ``bucket``. A write streams its chunks
into a multipart upload that is completed only after the last chunk, so readers
see the whole object or nothing; a write that fails is aborted. Endpoint,
credentials and region come from the settings (None: s3fs and botocore defaults,
i.e. AWS and the usual credential chain).

Library errors are translated here, at the edge: an unreachable endpoint or a
missing bucket is :class:`Unavailable` naming the endpoint and the setting to
check, refused credentials are :class:`PermissionDenied`, a missing key is
``KeyError``. Retries are kept short so a dead endpoint fails in seconds.

It does not create buckets, keep object versions, or clean up multipart
uploads orphaned by a killed writer (they are invisible; an S3 lifecycle rule
``AbortIncompleteMultipartUpload`` reclaims their space).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import botocore.exceptions
import s3fs
from fsspec.exceptions import FSTimeoutError

from crispml.core.config import ENV_PREFIX
from crispml.core.errors import (
    CrispmlError,
    Internal,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from crispml.core.plugins import redact
from crispml.core.storage.base import BlobStore

if TYPE_CHECKING:
    from crispml.core.config import Settings

#: Bytes fetched per request when reading; readahead keeps one block ahead.
READ_BLOCK_SIZE = 8 * 1024 * 1024
#: Bytes per uploaded part. S3 allows 10,000 parts, so this caps a blob at 625 GiB.
PART_SIZE = 64 * 1024 * 1024

#: Errors meaning the endpoint could not be reached or did not answer in time.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    aiohttp.ClientError,
    FSTimeoutError,
    asyncio.TimeoutError,
    ConnectionError,
    TimeoutError,
)
#: Errors raised by s3fs (which turns S3 error responses into OSError) and botocore.
_LIBRARY: tuple[type[BaseException], ...] = (OSError, botocore.exceptions.BotoCoreError)
_NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
)

_ENDPOINT_VAR = f"{ENV_PREFIX}S3_ENDPOINT_URL"
_KEYS_VARS = f"{ENV_PREFIX}S3_ACCESS_KEY_ID and {ENV_PREFIX}S3_SECRET_ACCESS_KEY"


@functools.cache
def _session() -> Any:
    """One aiobotocore session for every store of this process. A new session loads and parses botocore's
    S3 model again (a tenth of a second per store); with one, each store still makes its own client, with
    its own endpoint, credentials and settings."""
    from aiobotocore.session import AioSession  # type: ignore[import-untyped]  # (s3fs's own dependency)

    return AioSession()


class S3BlobStore(BlobStore):
    """Bytes by key as objects under one bucket and prefix of an S3-compatible store."""

    scheme = "s3"
    #: Part size of multipart writes (S3 needs at least 5 MiB for all parts but the last).
    part_size = PART_SIZE

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidArgument(f"S3 URL {url!r} names no bucket; use s3://BUCKET/PREFIX")
        self.bucket = parts.netloc
        root = parts.path.strip("/")
        self._root = f"{root}/" if root else ""
        endpoint = settings.s3_endpoint_url if settings else None
        self.endpoint = redact(endpoint) if endpoint else "the default AWS S3 endpoint"
        secret = settings.s3_secret_access_key if settings else None
        self._secret = secret.get_secret_value() if secret else None
        client_kwargs = {"region_name": settings.s3_region} if settings else {}
        self._fs = s3fs.S3FileSystem(
            endpoint_url=endpoint,
            key=settings.s3_access_key_id if settings else None,
            secret=self._secret,
            client_kwargs=client_kwargs,
            config_kwargs={
                "connect_timeout": 3,
                "read_timeout": 30,
                "retries": {"mode": "standard", "total_max_attempts": 2},
            },
            # one instance per store: two stores with different settings share no client
            skip_instance_cache=True,
            session=_session(),
            # other processes write the lake, so a cached listing would go stale
            use_listings_cache=False,
        )
        # s3fs retries each call again on top of botocore; keep the product small
        self._fs.retries = 2

    # -- paths and errors --------------------------------------------------

    def _path(self, key: str) -> str:
        if not key or "" in key.split("/") or ".." in key.split("/"):
            raise InvalidArgument(f"blob key {key!r} is not a plain relative key")
        return f"{self.bucket}/{self._root}{key}"

    def _no_bucket(self) -> Unavailable:
        return Unavailable(
            f"the bucket {self.bucket!r} does not exist on {self.endpoint}; "
            f"create it, or fix the lake URL {self.url!r}",
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    @contextmanager
    def _edge(self, action: str, missing: str | None = None) -> Iterator[None]:
        """Translate s3fs, botocore and aiohttp errors raised by the body.

        ``missing``: the key whose absence a not-found error means (it becomes
        ``KeyError(missing)``); without it, not-found can only mean the bucket.
        """
        try:
            yield
        except (CrispmlError, KeyError):
            raise
        except Exception as exc:
            translated = self._translate(exc, action, missing)
            if translated is None:
                raise
            raise translated from exc

    def _translate(self, exc: Exception, action: str, missing: str | None) -> Exception | None:
        """The crispml error for a library error, or None if it is not the library's."""
        code, status = _client_error(exc)
        if code == "NoSuchBucket":
            return self._no_bucket()
        if isinstance(exc, FileNotFoundError):
            return KeyError(missing) if missing is not None else self._no_bucket()
        reason = self._scrub(str(exc)) or type(exc).__name__
        if isinstance(exc, _NO_CREDENTIALS):
            return Unauthenticated(
                f"no credentials for the S3 endpoint {self.endpoint}; set {_KEYS_VARS}"
            )
        if isinstance(exc, PermissionError):
            return PermissionDenied(
                f"the S3 endpoint {self.endpoint} refused to {action} in bucket "
                f"{self.bucket!r} ({reason}); check {_KEYS_VARS}"
            )
        if isinstance(exc, _UNREACHABLE) or (status is not None and status >= 500):
            return Unavailable(
                f"cannot reach the S3 endpoint {self.endpoint} to {action}: {reason}; "
                f"check {_ENDPOINT_VAR} and that the server runs"
            )
        if isinstance(exc, _LIBRARY) or code is not None:
            return Internal(f"the S3 endpoint {self.endpoint} failed to {action}: {reason}")
        return None

    # -- primitives --------------------------------------------------------

    def _write(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self._path(key)
        # autocommit=False: closing uploads the last part but completes nothing;
        # only commit() makes the object visible. (With autocommit, closing the
        # file, as a ``with`` block does on an exception, would publish a partial
        # object.) S3File is built directly because fs.open(autocommit=False)
        # outside a transaction appends every file to fs.transaction forever.
        out = s3fs.S3File(self._fs, path, mode="wb", block_size=self.part_size, autocommit=False)
        try:
            # the source is iterated outside _edge: its own errors pass through as they are
            for chunk in chunks:
                with self._edge("write", missing=None):
                    out.write(chunk)
            with self._edge("write", missing=None):
                out.close()
                out.commit()
        except BaseException:
            _discard(out)
            raise

    def open(self, key: str) -> IO[bytes]:
        path = self._path(key)
        with self._edge("read", missing=key):
            reader = _Reader(self, key, path, block_size=READ_BLOCK_SIZE, cache_type="readahead")
        if reader.details.get("type") != "file":  # a "directory": other keys start with key/
            reader.close()
            raise KeyError(key)
        return reader

    def read_bytes(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        # one ranged GET instead of the base's open+seek, which would read a whole block ahead
        path = self._path(key)
        if start < 0 or (end is not None and end < 0):
            raise InvalidArgument(f"byte range [{start}, {end}) of {key!r} is negative")
        if end is not None and end <= start:
            if not self.exists(key):
                raise KeyError(key)
            return b""
        with self._edge("read", missing=key):
            try:
                if start == 0 and end is None:
                    data = self._fs.cat_file(path)  # whole object: parallel ranged GETs
                else:
                    data = self._fs.cat_file(path, start=start, end=end)
            except OSError as exc:
                if _client_error(exc)[0] != "InvalidRange":
                    raise
                data = b""  # start is past the end, as with seek+read on a file
        return bytes(data)

    def _head(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        with self._edge("read", missing=key):
            try:
                head: dict[str, Any] = self._fs.call_s3(
                    "head_object", Bucket=self.bucket, Key=path.partition("/")[2]
                )
            except FileNotFoundError:
                return None
        return head

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise KeyError(key)
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._edge("delete"):
            self._fs.call_s3("delete_object", Bucket=self.bucket, Key=path.partition("/")[2])

    def copy(self, source_key: str, target_key: str) -> None:
        source, target = self._path(source_key), self._path(target_key)
        with self._edge("copy", missing=source_key):
            self._fs.cp_file(source, target)  # CopyObject, or UploadPartCopy past 150 MiB

    def list(self, prefix: str = "") -> Iterator[str]:
        query = {"Bucket": self.bucket, "Prefix": self._root + prefix}
        while True:
            with self._edge("list"):
                page = self._fs.call_s3("list_objects_v2", **query)
            for item in page.get("Contents", []):
                key = item["Key"][len(self._root) :]
                if key and not key.endswith("/"):  # skip "folder" marker objects
                    yield key
            if not page.get("IsTruncated"):
                return
            query["ContinuationToken"] = page["NextContinuationToken"]

    def check(self) -> None:
        with self._edge("check the bucket"):
            try:
                self._fs.call_s3("head_bucket", Bucket=self.bucket)
            except FileNotFoundError as exc:
                raise self._no_bucket() from exc


class _Reader(s3fs.S3File):  # type: ignore[misc]
    """An s3fs reader whose network errors are translated like every other primitive's."""

    def __init__(self, store: S3BlobStore, key: str, path: str, **kwargs: Any) -> None:
        self._crispml_store = store
        self._crispml_key = key
        super().__init__(store._fs, path, mode="rb", **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        with self._crispml_store._edge("read", missing=self._crispml_key):
            data: bytes = super()._fetch_range(start, end)
        return data


def _client_error(exc: BaseException) -> tuple[str | None, int | None]:
    """The S3 error code and HTTP status behind an s3fs error, if a response caused it."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and "Error" in response:
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return response["Error"].get("Code"), status
        seen = seen.__cause__ or seen.__context__
    return None, None


def _discard(out: Any) -> None:
    """Abort the multipart upload behind ``out``; best effort, the object stays invisible."""
    with suppress(Exception):  # an unaborted upload is invisible; the caller's error matters
        out.discard()
    # a discarded file must not be flushed again when it is garbage collected
    out.closed = True
