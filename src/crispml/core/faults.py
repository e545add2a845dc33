"""Name the storage fault behind a library's error: a full disk, a read-only home, a damaged database.

SQLite reports a full disk as ``database or disk is full`` at best and as
``unable to open database file`` or ``disk I/O error`` when the disk filled
while it opened or grew a file; a home made read-only shows the same
``unable to open``. Those words alone would read as "the database cannot be
reached", so for SQLite's open and I/O errors this module looks at the files
themselves — can the folder and the database be written, is there space left
on their file system, has the process's file size limit (``ulimit -f``) been
reached — and names what it finds. PostgreSQL says what happened in its
SQLSTATE (``53100`` disk full, ``25006`` read-only, ``XX001`` data corrupted).
A plain ``OSError`` from a lake file says it in its errno.

It does not guess: an error it cannot place comes back as None and is
reported as before. It imports no driver; the callers hand it the exception.
"""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path

from crispml.core.errors import CrispmlError, StorageCorrupted, StorageFull, StorageReadOnly

#: Less free space than this on a database's file system counts as full (SQLite grows files by pages).
_NEARLY_FULL = 256 * 1024
#: SQLite's error names (Python 3.11's ``sqlite_errorname``) by what they mean here.
_SQLITE_FULL = ("SQLITE_FULL",)
_SQLITE_READONLY = ("SQLITE_READONLY",)
_SQLITE_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_SQLITE_LOOK = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM", "SQLITE_AUTH")
#: PostgreSQL's SQLSTATEs by what they mean here.
_PG_FULL = {"53100"}
_PG_READONLY = {"25006"}
_PG_CORRUPT = {"XX001", "XX002"}


def os_fault(exc: OSError, what: str, where: Path | str) -> CrispmlError | None:
    """The typed error for an ``OSError`` met while ``what`` (e.g. "writing lake object 'b/k'") under the
    folder ``where``, or None if the errno is not a storage fault."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"{what} failed: no space left on the disk holding {where} ({exc.strerror}); "
                           "free some space (or raise the quota) and retry")
    if code == errno.EFBIG:
        return StorageFull(f"{what} failed: {_size_limit_text()}; raise the limit or free space and retry")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageReadOnly(f"{what} failed: {where} cannot be written ({exc.strerror}); "
                               "check the folder's permissions and that its file system is mounted read-write")
    return None


def sqlite_fault(exc: BaseException, database: Path, display: str) -> CrispmlError | None:
    """The typed error for a sqlite3 error ``exc`` on the database file ``database`` (shown as ``display``),
    or None if it is not a storage fault."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    message = str(exc).strip()
    if name.startswith(_SQLITE_CORRUPT) or "malformed" in message or "not a database" in message:
        return StorageCorrupted(
            f"the metadata database {display} is damaged ({message}); stop every crispml process on this home, "
            f"move {database.name} aside and restore it from a backup (or try: sqlite3 {database.name} '.recover')")
    if name.startswith(_SQLITE_FULL) or "disk is full" in message:
        return _sqlite_full(database, display, message) or StorageFull(
            f"the metadata database {display} cannot grow: the disk is full ({message}); free some space and retry")
    if name.startswith(_SQLITE_READONLY) or "readonly database" in message:
        return _sqlite_read_only(database, display, message) or StorageReadOnly(
            f"the metadata database {display} is read-only ({message}); check the permissions of {database} "
            f"and of its folder {database.parent}")
    if name.startswith(_SQLITE_LOOK) or "unable to open" in message or "disk i/o error" in message.lower():
        return _sqlite_read_only(database, display, message) or _sqlite_full(database, display, message)
    return None


def postgres_fault(exc: BaseException, display: str) -> CrispmlError | None:
    """The typed error for a psycopg error ``exc`` from the server at ``display``, or None."""
    state = str(getattr(exc, "sqlstate", "") or "")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if state in _PG_FULL:
        return StorageFull(f"the metadata database server {display} is out of disk space ({first}); "
                           "free space on the server's data disk and retry")
    if state in _PG_READONLY:
        return StorageReadOnly(f"the metadata database {display} accepts no writes ({first}); point "
                               "CRISPML_DB_URL at the primary server, or turn off default_transaction_read_only")
    if state in _PG_CORRUPT:
        return StorageCorrupted(f"the metadata database {display} reports damaged data ({first}); "
                                "restore it from a backup")
    return None


def _sqlite_read_only(database: Path, display: str, message: str) -> CrispmlError | None:
    folder = database.parent
    blocked = [p for p in (folder, database, Path(f"{database}-wal"), Path(f"{database}-shm"))
               if p.exists() and not os.access(p, os.W_OK)]
    if not blocked:
        return None
    names = ", ".join(str(p) for p in blocked)
    return StorageReadOnly(
        f"the metadata database {display} cannot be written: {names} "
        f"{'is' if len(blocked) == 1 else 'are'} read-only ({message}); give your user write access "
        f"(chmod u+w), or open the home from a writable copy")


def _sqlite_full(database: Path, display: str, message: str) -> CrispmlError | None:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        sizes = [p.stat().st_size for p in (database, Path(f"{database}-wal")) if p.exists()]
        if any(size + _NEARLY_FULL >= limit for size in sizes):
            return StorageFull(f"the metadata database {display} cannot grow: {_size_limit_text()} ({message}); "
                               "raise the limit and retry")
    try:
        stats = os.statvfs(database.parent if database.parent.exists() else database.parent.parent)
    except OSError:
        return None
    if stats.f_bavail * stats.f_frsize < _NEARLY_FULL:
        return StorageFull(f"the metadata database {display} cannot grow: no space left on the disk holding "
                           f"{database.parent} ({message}); free some space and retry")
    return None


def _size_limit_text() -> str:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    shown = "unlimited" if limit == resource.RLIM_INFINITY else f"{limit:,} bytes"
    return f"a file reached this process's file size limit (ulimit -f: {shown})"
