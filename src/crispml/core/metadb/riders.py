"""A statement that rides along with the next write transaction of a call.

The spine records one audit event per operation call. Written in a
transaction of its own after the call, the event could be lost when the
process dies between the call's commit and the event's (a SIGKILL left
committed ``PutRecords`` batches with no event). A :class:`Rider` closes that
gap without a second write: while a call runs (:func:`riding`), the first
write transaction of the metadata DB that the call commits on this thread —
:meth:`Database.write`, :meth:`Database.begin`, :meth:`Database.cursor` with
``write=True`` — runs the rider's statement just before its commit, so the
event and the change commit together or not at all. A call that commits
nothing leaves the rider unused, and its owner writes the statement itself
afterwards.

It deliberately does not ride on read transactions (on SQLite a read that
turns into a write can fail at once when another writer committed since it
began), on transactions opened behind the :class:`Database`'s back, or on
other threads: the context variable stays with the call's own thread. SQL is
plain text with the driver's placeholders, run on the transaction's own DB-API
connection, as the hot paths' statements are (:meth:`Database.cursor`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_CURRENT: ContextVar[Rider | None] = ContextVar("crispml_rider", default=None)


class Rider:
    """One statement (``sql`` and the values ``values()`` builds when it runs) for the next write transaction
    of ``owner`` (a :class:`Database`) committed in this context."""

    __slots__ = ("_busy", "_closed", "_lock", "landed", "many", "owner", "sql", "values")

    def __init__(self, owner: object, sql: str, values: Callable[[], Sequence[Any]], *, many: bool = False) -> None:
        self.owner = owner
        self.sql = sql
        self.values = values
        #: ``values()`` is a sequence of rows, the statement run once per row (none: nothing runs).
        self.many = many
        #: Whether the statement committed with a transaction of the call.
        self.landed = False
        self._busy = False
        self._closed = False
        self._lock = threading.Lock()

    def board(self) -> bool:
        """Claim the rider for one transaction; False if it has landed, is closed or another has it."""
        with self._lock:
            if self.landed or self._closed or self._busy:
                return False
            self._busy = True
            return True

    def ride(self, connection: Any) -> None:
        """Run the statement on ``connection`` (a DB-API connection, inside the claiming transaction)."""
        cursor = connection.cursor()
        try:
            if not self.many:
                cursor.execute(self.sql, tuple(self.values()))
            else:
                rows = [tuple(row) for row in self.values()]
                if rows:
                    cursor.executemany(self.sql, rows)
        finally:
            cursor.close()

    def settle(self, *, committed: bool) -> None:
        """The claiming transaction ended: committed (the statement landed) or rolled back."""
        with self._lock:
            self._busy = False
            self.landed = self.landed or committed

    def close(self) -> None:
        with self._lock:
            self._closed = True


def boarding(owner: object) -> Rider | None:
    """The current call's rider for a write transaction of ``owner``, claimed; None if there is none to carry.
    The caller runs :meth:`Rider.ride` before its commit and :meth:`Rider.settle` after it."""
    rider = _CURRENT.get()
    if rider is None or rider.owner is not owner or not rider.board():
        return None
    return rider


@contextmanager
def aside() -> Iterator[None]:
    """No rider until the block ends: a call's own statements (its authorization, its audit writes) must not
    carry the rider of the call it runs inside."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def riding(rider: Rider) -> Iterator[Rider]:
    """Make ``rider`` the current call's until the block ends (then it rides no more)."""
    token = _CURRENT.set(rider)
    try:
        yield rider
    finally:
        rider.close()
        _CURRENT.reset(token)
