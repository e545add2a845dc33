"""Sealed databases kept for the next statement that reads exactly the same files.

A statement that reads files runs on a DuckDB database of its own, sealed to
those files (``seal.py``): DuckDB's allowed paths are fixed per database, and
opening one costs ~15 ms of a core and closing it ~5 ms. Statements that read
the same files — the same table and partitions again, which link trees make
the same paths (``links.py``) — may run on one database in turn: its seal is
exactly what a new one's would be. So a read-only statement over local files
takes an idle database sealed to exactly its paths (:meth:`DatabasePool.take`),
runs on a cursor of it (its views are temporary, the cursor's own), and gives
it back when done (:meth:`DatabasePool.give_back`).

A database is used by one statement at a time (two statements over the same
files at once get two, as before), and carries nothing from one statement to
the next: its configuration is locked, a statement's temporary views and
registrations end with its cursor, and its spill folder — its only writable
place, which only it may reach — must be empty for it to be kept. Databases
that read through a caller's filesystem (``lake://``), and statements that
write, are never kept. At most :data:`KEEP` idle databases are kept, the least
recently used closed first, on a helper thread (nothing waits for it).
Deliberately not here: which statements may share one (``engine.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
from crispml.services.query.engines.duckdb.seal import seal

#: Idle databases kept (each is a few MB when idle: a statement's data is freed with its cursor).
KEEP = 2


@dataclass
class Sealed:
    """A database sealed to exactly ``paths`` and its own spill ``folder``."""

    con: duckdb.DuckDBPyConnection
    paths: frozenset[str]
    folder: str

    def __post_init__(self) -> None:
        # an idle database lives as long as the process (the query service keeps its engine): its folder goes
        # when the process ends, if it was not closed before
        self._removal = weakref.finalize(self, shutil.rmtree, self.folder, True)

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):  # closed already
            self.con.close()
        self._removal()


class DatabasePool:
    """Idle sealed databases by the exact paths they may read."""

    def __init__(self, open_database: Callable[[], duckdb.DuckDBPyConnection], settings: Iterable[str],
                 keep: int = KEEP) -> None:
        self._open = open_database
        self._settings = tuple(settings)
        self.keep = keep
        self._idle: OrderedDict[frozenset[str], Sealed] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def take(self, paths: Iterable[str]) -> tuple[Sealed, bool]:
        """A database sealed to exactly ``paths`` (and a spill folder of its own), for one statement; and
        whether it was opened for it (False: an idle one was reused)."""
        key = frozenset(paths)
        with self._lock:
            idle = self._idle.pop(key, None)
        if idle is not None:
            return idle, False
        folder = tempfile.mkdtemp(prefix="crispml-query-db-")
        spill = os.path.join(folder, "spill").replace("'", "''")
        try:
            con = seal(self._open(), paths=key, directories=[folder],
                       settings=(*self._settings, f"SET temp_directory = '{spill}'"))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Sealed(con, key, folder), True

    def give_back(self, sealed: Sealed) -> None:
        """A statement is done with ``sealed`` (its cursor closed): keep it for the next statement over the
        same paths if it holds nothing of this one's, else close it."""
        closing: list[Sealed] = []
        if _empty(sealed.folder):
            with self._lock:
                if self.keep > 0:
                    previous = self._idle.pop(sealed.paths, None)
                    self._idle[sealed.paths] = sealed
                    closing = [previous] if previous is not None else []
                    while len(self._idle) > self.keep:
                        closing.append(self._idle.popitem(last=False)[1])
                else:
                    closing = [sealed]
        else:
            closing = [sealed]
        if closing:
            # not a daemon: a thread torn down inside DuckDB's C++ when the interpreter exits aborts it
            threading.Thread(target=_close_all, args=(closing,), name="query-database-close").start()

    def close(self) -> None:
        """Close every idle database."""
        with self._lock:
            idle = list(self._idle.values())
            self._idle.clear()
        _close_all(idle)


def _empty(folder: str) -> bool:
    """Whether a database's folder holds nothing but an empty spill folder (DuckDB removes its spill files
    when a statement's data is freed)."""
    try:
        entries = os.listdir(folder)
        return not entries or (entries == ["spill"] and not os.listdir(os.path.join(folder, "spill")))
    except OSError:
        return False


def _close_all(databases: list[Sealed]) -> None:
    for sealed in databases:
        sealed.close()
