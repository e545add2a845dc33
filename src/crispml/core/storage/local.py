"""The ``file://`` blob store: blobs as files under a root folder.

Writes go to ``<root>/.tmp/`` first and are renamed into place when complete,
so a killed writer leaves only a temporary that no reader looks at. It does not
fsync: a killed process loses nothing committed, but a power cut may lose the
last writes, as with SQLite's ``synchronous=NORMAL``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from crispml.core.errors import InvalidArgument, StorageReadOnly, Unavailable
from crispml.core.faults import os_fault
from crispml.core.storage.base import BlobStore

if TYPE_CHECKING:
    from crispml.core.config import Settings

_TMP = ".tmp"
#: A temporary older than this was left by a killed writer.
_STALE_SECONDS = 24 * 3600


class LocalBlobStore(BlobStore):
    scheme = "file"

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"file URL {url!r} names a host; use file:///absolute/path")
        self.root = Path(unquote(parts.path) if parts.scheme else url).expanduser()
        try:
            (self.root / _TMP).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_fault(exc, "creating the lake folder", self.root) or Unavailable(
                f"cannot create the lake folder {self.root}: {exc.strerror}") from exc
        self._sweep_temporaries()

    def _sweep_temporaries(self) -> None:
        """Remove temporaries a killed writer left behind (older than a day, so never a live one)."""
        cutoff = time.time() - _STALE_SECONDS
        with os.scandir(self.root / _TMP) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith(_TMP) or any(p in ("", ".", "..") for p in parts):
            raise InvalidArgument(f"blob key {key!r} is not a plain relative key")
        return self.root / key

    def _write(self, key: str, chunks: Iterable[bytes]) -> None:
        final = self._path(key)
        tmp = self.root / _TMP / f"{uuid.uuid4().hex}.part"
        try:
            with open(tmp, "wb", buffering=0) as out:
                for chunk in chunks:
                    _write_all(out, chunk)
            _move_into_place(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            fault = os_fault(exc, f"writing lake blob {key!r}", self.root)
            if fault is not None:
                raise fault from exc
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise KeyError(key) from exc

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise KeyError(key)
        return path.stat().st_size

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # drop the fan-out folder once empty; another writer may refill it at once, so ignore races
        with contextlib.suppress(OSError):
            if path.parent != self.root:
                path.parent.rmdir()

    def copy(self, source_key: str, target_key: str) -> None:
        source, final = self._path(source_key), self._path(target_key)
        tmp = self.root / _TMP / f"{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(source, tmp)
            _move_into_place(tmp, final)
        except FileNotFoundError as exc:
            tmp.unlink(missing_ok=True)
            raise KeyError(source_key) from exc
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            fault = os_fault(exc, f"copying lake blob {source_key!r}", self.root)
            if fault is not None:
                raise fault from exc
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == _TMP:
                dirnames.clear()
                continue
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if key.startswith(prefix):
                    yield key

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageReadOnly(f"the lake folder {self.root} is not writable; check its permissions and that its "
                                  "file system is mounted read-write")


def _write_all(out: IO[bytes], chunk: bytes) -> None:
    """Write all of ``chunk``: an unbuffered write may take only part of it (at a file size limit, a full
    disk), and the next write then raises the reason."""
    view = memoryview(chunk)
    while view:
        written = out.write(view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename a finished temporary onto its key, recreating the folder if a delete just pruned it."""
    for _ in range(5):
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, final)
            return
        except FileNotFoundError:
            if not tmp.exists():
                raise
    os.replace(tmp, final)
