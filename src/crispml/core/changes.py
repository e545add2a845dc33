"""Change notices within one process: "the state of this resource may have changed — read it again".

A waiting caller still reads the state through the operation that reports it
(authorized and audited); a notice only tells it *when* to read, instead of
sleeping through the time between two polls. A service posts a notice after it
has committed a change a waiter could be waiting for (a query execution that
ended, say). Nothing is guaranteed beyond that: a waiter that is not told polls
on its own schedule, so a change made in another process (which cannot post
here) is seen as before, only not at once.

Written here because it is a condition variable and a counter per key; the
standard library's ``threading.Condition`` does the waiting.
"""

from __future__ import annotations

import threading

#: Keys remembered at most; the oldest are dropped first (a waiter on a dropped key just polls).
MAX_KEYS = 10_000


class Changes:
    """Per-key change counters that waiters can block on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._versions: dict[str, int] = {}

    def version(self, key: str) -> int:
        """The key's counter now: read it *before* reading the state, then :meth:`wait` with it."""
        with self._condition:
            return self._versions.get(key, 0)

    def post(self, key: str) -> None:
        """Say that ``key`` changed (after the change is committed)."""
        with self._condition:
            self._versions[key] = self._versions.pop(key, 0) + 1  # re-inserted: the newest key
            while len(self._versions) > MAX_KEYS:
                del self._versions[next(iter(self._versions))]
            self._condition.notify_all()

    def wait(self, key: str, seen: int, timeout: float) -> bool:
        """Block until ``key`` changes after version ``seen``, or ``timeout`` seconds; True if it changed."""
        with self._condition:
            return self._condition.wait_for(lambda: self._versions.get(key, 0) != seen, timeout)
