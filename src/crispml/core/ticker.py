"""One background thread per process that runs every registered periodic check.

A query execution needs two things looked at while it runs: whether it was
stopped (from this process or another, through the metadata DB) and whether
its engine must be interrupted. Giving each execution threads of its own for
that cost more than a short query itself (starting and joining a thread is
~0.1–0.3 ms each, more on a busy machine), and a query that ends within its
first poll never needed them. So checks are registered here: the first run of
a check is one ``period`` after :meth:`Ticker.add`, a short query is over
before that, and :meth:`Watch.cancel` is a lock, not a thread join.

A check runs under its watch's lock, and :meth:`Watch.cancel` takes that lock:
once ``cancel`` returns, the check is not running and never runs again. That
is what lets the owner of a check that calls into C++ (DuckDB's
``interrupt()``) end safely: the thread is a daemon, and a daemon thread torn
down inside C++ at interpreter exit aborts the process — it never is, as long
as every owner cancels its watch before it ends.

The standard library's ``sched`` and ``threading.Timer`` do not fit: one runs
in the caller's thread, the other is a thread per timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: How often the thread wakes to see which checks are due (seconds); the finest period a check can have.
RESOLUTION = 0.05


class Watch:
    """A registered check; :meth:`cancel` ends it."""

    def __init__(self, check: Callable[[], bool], period: float) -> None:
        self.check = check
        self.period = period
        self.due = time.monotonic() + period
        self.active = True
        self.lock = threading.Lock()

    def cancel(self) -> None:
        """Stop the check; when this returns it is not running and will not run again."""
        with self.lock:
            self.active = False


class Ticker:
    """Runs registered checks on one daemon thread, each every ``period`` seconds until it returns False."""

    def __init__(self, name: str = "crispml-ticker") -> None:
        self._name = name
        self._watches: list[Watch] = []
        self._lock = threading.Lock()
        self._idle = threading.Event()  # never set: the loop's sleep
        self._thread: threading.Thread | None = None

    def add(self, check: Callable[[], bool], period: float) -> Watch:
        """Run ``check`` every ``period`` seconds (first after one period) until it returns False or is cancelled.

        A check that raises is kept and runs again at its next period.
        """
        watch = Watch(check, max(period, RESOLUTION))
        with self._lock:
            self._watches.append(watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        return watch

    def _loop(self) -> None:
        while True:
            self._idle.wait(RESOLUTION)
            with self._lock:
                self._watches = [w for w in self._watches if w.active]
                due = [w for w in self._watches if w.due <= time.monotonic()]
            for watch in due:
                self._run(watch)

    @staticmethod
    def _run(watch: Watch) -> None:
        with watch.lock:
            if not watch.active:
                return
            try:
                keep = watch.check()
            except Exception:  # a failing check (a DB hiccup) is tried again at its next period
                keep = True
            watch.due = time.monotonic() + watch.period
            if not keep:
                watch.active = False


#: The process's ticker.
TICKER = Ticker()
