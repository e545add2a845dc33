"""One writer at a time per managed table: the lock a data commit holds from reading the table to moving its pointer.

Iceberg commits are optimistic: a writer builds its snapshot on the state it
read, and the pointer swap (a compare-and-set in the metadata DB) fails if
another writer moved it first; the loser rebuilds and tries again. Under
contention that is unfair — with eight processes appending at once, a
writer can lose round after round until its retries run out, although
appends never conflict. So every data commit of crispml holds this lock from
the moment it reads the table's current state until its pointer has moved,
and every pointer swap takes it too (``LakeCatalog.commit_table``): a writer
holding it reads the newest state and cannot lose its swap, and the next
writer waits its turn instead of failing.

- On PostgreSQL it is a transaction-level advisory lock
  (``pg_advisory_xact_lock``) on a connection of its own; PostgreSQL grants
  waiters in the order they asked, and releases the lock when the
  transaction ends — or when the holder's connection dies, so a killed writer
  never leaves the table locked.
- On SQLite (every process on one machine, sharing ``meta.db``) it is a byte of
  ``meta.db.commit.lock`` locked with ``fcntl.lockf``, the byte chosen by the
  table's name (4,096 slots: two tables rarely share one, and sharing only
  costs a short wait); the kernel releases it when the holder dies.
- Threads of one process take a per-table mutex first (POSIX record locks do
  not exclude threads of the same process), and a thread that holds the lock
  may take it again (an append's commit swaps the pointer under the lock it
  already holds).

Written by hand because neither pyiceberg nor SQLAlchemy offers a cross-process
lock; ``core.metadb``'s migration lock is the same idea for the whole database.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from crispml.core.metadb.engine import Database

#: Byte slots of the SQLite lock file (tables hash onto them).
_SLOTS = 4096
_mutexes: dict[tuple[str, str], threading.Lock] = {}
_mutexes_guard = threading.Lock()
_held = threading.local()


def _digest(database: str, table: str) -> bytes:
    return hashlib.sha256(f"crispml-iceberg-commit\0{database}\0{table}".encode()).digest()


def _mutex(key: tuple[str, str]) -> threading.Lock:
    with _mutexes_guard:
        return _mutexes.setdefault(key, threading.Lock())


@contextmanager
def commit_lock(db: Database, identifier: tuple[str, str]) -> Iterator[None]:
    """Hold the commit lock of table ``identifier`` (database, name) of the metadata DB ``db``."""
    key = (db.display_url, f"{identifier[0]}.{identifier[1]}")
    held: set[tuple[str, str]] = _held.__dict__.setdefault("keys", set())
    if key in held:  # this thread holds it already
        yield
        return
    with _mutex(key), _process_lock(db, identifier):
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)


@contextmanager
def _process_lock(db: Database, identifier: tuple[str, str]) -> Iterator[None]:
    digest = _digest(*identifier)
    if db.dialect != "sqlite":
        with db.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                         {"k": int.from_bytes(digest[:8], "big", signed=True)})
            yield  # released when this transaction ends (or its connection dies)
        return
    database = db.url.database or ""
    if not database or database == ":memory:":  # one process: the mutex is enough
        yield
        return
    slot = int.from_bytes(digest[:4], "big") % _SLOTS
    with open(f"{database}.commit.lock", "a+b") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX, 1, slot)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN, 1, slot)
