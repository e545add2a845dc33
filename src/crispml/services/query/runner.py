"""Running one query execution: the worker thread, its watch, and its results file.

``StartQueryExecution`` records the execution ``QUEUED`` and hands the
prepared statement to a :class:`Run`, which runs it on a worker thread of the
calling process: ``plan()``, the workgroup's bytes-scanned cutoff,
``execute()``, the rows streamed into the results CSV in the lake as they
come, then ``SUCCEEDED``, ``FAILED`` or ``CANCELLED`` — each written to the
metadata DB with its time and statistics. A query still running after
:data:`RUNNING_AFTER` is recorded ``RUNNING`` by its watch; one that ends
sooner goes from ``QUEUED`` to its end state in one write, as a fast Athena
query looks to a client that polls (the row names its process from the start,
so a dead run is found either way). Worker threads are kept once idle for the
next query (:func:`workers`: starting a thread costs ~0.3 ms, handing
work to an idle one a few µs); a process finishes the queries it started
before it exits, as a ``concurrent.futures`` pool does, and up to
:data:`MAX_RUNNING` run at once in one process, later ones waiting ``QUEUED``.
A running query's thread is named ``query-<id>``.

Every end state is written only while the execution is still ``QUEUED`` or
``RUNNING`` (one conditional UPDATE), so a ``StopQueryExecution`` that won the
race keeps its ``CANCELLED``. Stopping works across processes because a
watch on the process's ticker (:mod:`crispml.core.ticker`) reads the
execution's state from the DB every :data:`POLL_SECONDS`: once it reads
``CANCELLED`` it sets the flag that ``execute`` polls and calls
``prepared.interrupt()`` — at every tick until the worker ends, since an
interrupt that arrives between two engine statements would otherwise be lost.
The watch also beats the heartbeat that lets another host tell a live run from
a dead one (:func:`owner_alive`), as crawls do; on this host the owner's pid
decides. A query that ends within its first poll is never looked at, and the
worker cancels its watch before it ends, so the ticker's daemon thread is never
inside the engine when the interpreter shuts down. The watch also enforces the
workgroup's query timeout (``QueryTimeoutInMinutes``, counted on the platform
clock from the start): past it, the run is stopped like a cancelled one but
ends ``FAILED`` with ``LimitExceeded`` naming the timeout.

The worker reads and writes the lake as the principal who started the query
(the :class:`~crispml.services.query.engines.base.Caller` of its start), so its
results are authorized and audited as that principal's.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select

from crispml.core.errors import CrispmlError, LimitExceeded
from crispml.core.owners import owner_alive as process_alive
from crispml.core.ticker import TICKER, Watch
from crispml.services.query.engines.base import Caller, EngineResult, PreparedQuery, QueryCancelled, QueryFailed
from crispml.services.query.entities import ACTIVE_STATES, ColumnInfo
from crispml.services.query.hot import HotStatements
from crispml.services.query.store import QueryExecutionRow
from crispml.spine.operations import RuntimeAccess

#: How often a running query's watch reads its state (a stop is noticed within this).
POLL_SECONDS = 0.2
#: A query still running this long after it started is recorded ``RUNNING`` (a shorter one never is).
RUNNING_AFTER = 0.05
#: How often a running query records that its process is alive.
HEARTBEAT_SECONDS = 10.0
#: A run on another host whose heartbeat is older than this is taken for dead.
STALE_AFTER = timedelta(minutes=2)
#: Queries one process runs at once (more wait ``QUEUED`` for a worker thread).
MAX_RUNNING = 64

_TABLE = cast(Table, QueryExecutionRow.__table__)
_CANCELLED_REASON = "Query was cancelled by StopQueryExecution"
#: Athena's precision for types whose engine column says 0.
_PRECISION = {"varchar": 2147483647, "char": 2147483647, "bigint": 19, "integer": 10, "int": 10,
              "smallint": 5, "tinyint": 3, "double": 17, "real": 7, "float": 7, "timestamp": 3}


_workers: ThreadPoolExecutor | None = None
_workers_lock = threading.Lock()


def workers() -> ThreadPoolExecutor:
    """The process's query worker threads (made on first use; a forked child makes its own)."""
    global _workers
    with _workers_lock:
        if _workers is None:
            _workers = ThreadPoolExecutor(max_workers=MAX_RUNNING, thread_name_prefix="query-worker")
        return _workers


def _forget_workers() -> None:
    """In a forked child: the parent's threads are not there, so its pool's count of idle ones is wrong."""
    global _workers, _workers_lock
    _workers, _workers_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def owner_alive(owner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether the process named ``owner`` still runs: by pid on this host, by heartbeat elsewhere."""
    return process_alive(owner, heartbeat_at=heartbeat_at, now=now, stale_after=STALE_AFTER)


def column_info(column: Any) -> ColumnInfo:
    """An engine's result column as Athena's ``ColumnInfo``."""
    base = column.type.split("(", 1)[0].strip().lower()
    return ColumnInfo(name=column.name, label=column.name, type=column.type,
                      precision=column.precision or _PRECISION.get(base, 0), scale=column.scale,
                      nullable=column.nullable, case_sensitive=base in ("varchar", "char"))


def error_type_of(exc: BaseException) -> str:
    """The ``AthenaError.ErrorType`` of an exception that ended a run."""
    if isinstance(exc, QueryFailed):
        return exc.error_type
    if isinstance(exc, CrispmlError):
        return exc.code
    return "Internal"


def message_of(exc: BaseException) -> str:
    if isinstance(exc, QueryFailed | CrispmlError):
        return exc.message
    return f"the query failed unexpectedly: {type(exc).__name__}: {exc}"


@dataclass
class Timings:
    """Where a run's time went, in milliseconds (perf_counter, not the injectable clock)."""

    submitted: float  # perf_counter() when StartQueryExecution was called
    preprocessing_ms: int = 0
    queued: float = 0.0  # perf_counter() when the execution was recorded QUEUED
    queue_ms: int = 0
    planning_ms: int = 0
    engine_ms: int = 0
    processing_ms: int = 0
    started: float = 0.0

    def statistics(self) -> dict[str, int]:
        """The figures of a finished run (Athena's ``QueryExecutionStatistics``)."""
        total = int((time.perf_counter() - self.submitted) * 1000)
        return {
            "engine_execution_time_in_millis": self.engine_ms,
            "total_execution_time_in_millis": total,
            "query_queue_time_in_millis": self.queue_ms,
            "service_pre_processing_time_in_millis": self.preprocessing_ms,
            "query_planning_time_in_millis": self.planning_ms,
            "service_processing_time_in_millis": self.processing_ms,
        }


class Run:
    """One execution on its worker thread, with the watcher that notices a stop."""

    def __init__(self, core: RuntimeAccess, hot: HotStatements, caller: Caller, *, query_execution_id: str,
                 workgroup: str, prepared: PreparedQuery, result_path: str, cutoff: int | None, timings: Timings,
                 on_end: Callable[[Run], None], timeout: timedelta | None = None) -> None:
        self.core = core
        self.hot = hot
        self.caller = caller
        self.query_execution_id = query_execution_id
        self.workgroup = workgroup
        self.prepared = prepared
        self.result_path = result_path
        self.cutoff = cutoff
        self.timings = timings
        self.on_end = on_end
        self.scanned = 0
        self.timeout = timeout  # the workgroup's QueryTimeoutInMinutes, counted on the platform clock
        self._deadline: datetime | None = None
        self._timed_out = threading.Event()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._watch: Watch | None = None
        self._beat = 0.0
        self._started_at: datetime | None = None

    # -- control ------------------------------------------------------------------------------

    def start(self) -> None:
        """Hand the run to a worker thread (an idle one if there is one)."""
        try:
            workers().submit(self._named_work)
        except BaseException:
            self._ended.set()
            raise

    def stop(self) -> None:
        """Stop the run from this process (StopQueryExecution already wrote CANCELLED)."""
        if not self._stop.is_set():
            self._stop.set()
            with contextlib.suppress(Exception):  # interrupting an engine that already finished is harmless
                self.prepared.interrupt()

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it has."""
        return self._ended.wait(timeout)

    # -- the worker ----------------------------------------------------------------------------

    def _named_work(self) -> None:
        thread = threading.current_thread()
        idle_name, thread.name = thread.name, f"query-{self.query_execution_id}"
        try:
            self._work()
        finally:
            thread.name = idle_name
            self._ended.set()

    def _work(self) -> None:
        try:
            # the audit events of the run's reads (its tables' partitions, listings, files) commit with its
            # end state, in one transaction; a read after that, or an end that failed, appends them itself
            with contextlib.suppress(Exception), self.core.runtime.gathering():
                try:
                    self._run()
                except BaseException as exc:  # the worker ends with the execution closed, never with a traceback
                    with contextlib.suppress(Exception):
                        if self._timed_out.is_set():
                            self._end("FAILED", error=self._timeout_error())
                        elif isinstance(exc, QueryCancelled) or self.cancelled():
                            self._end("CANCELLED", reason=_CANCELLED_REASON)
                        else:
                            self._end("FAILED", error=exc)
        finally:
            # the ticker's thread is a daemon: once cancelled, the watch is not inside the engine's
            # interrupt() (C++) when the interpreter finalizes, which would abort the process
            if self._watch is not None:
                self._watch.cancel()
            self.on_end(self)

    def _run(self) -> None:
        timings = self.timings
        timings.started = time.perf_counter()
        timings.queue_ms = int((timings.started - (timings.queued or timings.submitted)) * 1000)
        self._started_at = self.core.clock.now()
        if self.timeout is not None:
            self._deadline = self._started_at + self.timeout
        if self.cancelled():
            return  # stopped while queued
        self._beat = time.monotonic()
        self._watch = TICKER.add(self._tick, RUNNING_AFTER)
        began = time.perf_counter()
        plan = self.prepared.plan()
        timings.planning_ms = int((time.perf_counter() - began) * 1000)
        self.scanned = plan.data_scanned_bytes  # recorded with the end state, in its one write
        if self.cutoff is not None and plan.data_scanned_bytes > self.cutoff:
            raise LimitExceeded(
                f"the query would scan {plan.data_scanned_bytes} bytes, over workgroup {self.workgroup!r}'s "
                f"BytesScannedCutoffPerQuery of {self.cutoff} bytes; filter on partition keys, select fewer "
                "columns or raise the cutoff with UpdateWorkGroup")
        if self.cancelled():
            raise QueryCancelled()
        began = time.perf_counter()
        result = self.prepared.execute(plan, self.cancelled)
        if result.written_table is not None:
            updated = self._count_written(result)
            timings.engine_ms = int((time.perf_counter() - began) * 1000)
            self._end("SUCCEEDED", update_count=updated, columns=[])
            return
        rows, size, writing = self._write_results(result)
        timings.engine_ms = int((time.perf_counter() - began) * 1000) - writing
        timings.processing_ms = writing
        self.scanned = max(self.scanned, result.plan.data_scanned_bytes)
        self._end("SUCCEEDED", result_rows=rows, result_bytes=size, columns=[column_info(c) for c in result.columns])

    def _count_written(self, result: EngineResult) -> int:
        written = 0
        for batch in _batches(result.batches):
            if self.cancelled():
                raise QueryCancelled()
            if "rows" in batch.schema.names:
                written += sum(v or 0 for v in batch.column("rows").to_pylist())
        return written

    def _write_results(self, result: EngineResult) -> tuple[int, int, int]:
        """Stream the rows into ``<output>/<id>.csv``; the rows, bytes and ms spent writing."""
        from crispml.services.query.results_csv import batch_bytes, header_bytes  # pyarrow's CSV writer

        fs = self.caller.lake.filesystem(self.caller.ctx)
        rows, writing = 0, 0.0
        with fs.open(self.result_path, "wb") as out:
            began = time.perf_counter()
            out.write(header_bytes([c.name for c in result.columns]))
            writing += time.perf_counter() - began
            for batch in _batches(result.batches):
                if self.cancelled():
                    raise QueryCancelled()  # leaving the block abandons the upload
                began = time.perf_counter()
                out.write(batch_bytes(batch))
                writing += time.perf_counter() - began
                rows += batch.num_rows
            if self.cancelled():
                raise QueryCancelled()
            size = out.tell()
        return rows, size, int(writing * 1000)

    def _end(self, state: str, *, error: BaseException | None = None, reason: str | None = None,
             update_count: int | None = None, result_rows: int | None = None, result_bytes: int | None = None,
             columns: list[ColumnInfo] | None = None) -> str:
        """Write the end state (if the execution is still active); the state it has now."""
        values: dict[str, Any] = {
            "state": state, "started_at": self._started_at, "completed_at": self.core.clock.now(),
            "data_scanned_bytes": self.scanned,
            "statistics": json.dumps(self.timings.statistics()), "owner": None, "heartbeat_at": None,
        }
        if error is not None:
            values.update(error_type=error_type_of(error), error_message=message_of(error),
                          state_change_reason=message_of(error))
        if reason is not None:
            values["state_change_reason"] = reason
        if columns is not None:
            values["result_columns"] = json.dumps([c.model_dump() for c in columns])
        if result_rows is not None:
            values["result_rows"], values["result_bytes"] = result_rows, result_bytes
        if update_count is not None:
            values["update_count"] = update_count
        if self._update(**values):
            return state
        # StopQueryExecution won: keep its CANCELLED, add what the run measured
        self._update(active_only=False, data_scanned_bytes=self.scanned, statistics=values["statistics"],
                     owner=None, heartbeat_at=None)
        return self._state() or "CANCELLED"

    def _timeout_error(self) -> LimitExceeded:
        assert self.timeout is not None
        minutes = int(self.timeout.total_seconds() // 60)
        return LimitExceeded(
            f"Query timeout: the query ran longer than workgroup {self.workgroup!r}'s QueryTimeoutInMinutes of "
            f"{minutes} minutes and was stopped; filter on partition keys, aggregate or limit the rows, or raise "
            "the timeout with UpdateWorkGroup")

    # -- the watch ------------------------------------------------------------------------------

    def _tick(self) -> bool:
        """One look at a running execution (on the ticker's thread): stopped elsewhere? heartbeat due?

        The first look records ``RUNNING``; a query that ended before it went from ``QUEUED`` to its end
        state in one write (its ``started_at`` is written with it).
        """
        if self._watch is not None and self._watch.period != POLL_SECONDS:
            self._watch.period = POLL_SECONDS
            if not self._update(state="RUNNING", started_at=self._started_at):
                self._stop.set()  # stopped (or deleted) while it was starting
        if not self.cancelled() and self._deadline is not None and self.core.clock.now() >= self._deadline:
            self._timed_out.set()  # before the stop: the worker reads it to tell a timeout from a stop
            self._stop.set()
        if not self.cancelled():
            if self._state() not in ACTIVE_STATES:  # stopped (or deleted) from anywhere
                self._stop.set()
            elif time.monotonic() - self._beat >= HEARTBEAT_SECONDS:
                self._update(heartbeat_at=self.core.clock.now())
                self._beat = time.monotonic()
        if self.cancelled():
            # again at every tick until the worker ends: an interrupt that lands between two of
            # the engine's statements is lost, and one stop must not leave a query running
            self.prepared.interrupt()
        return True

    # -- the row ----------------------------------------------------------------------------------

    def _state(self) -> str | None:
        with self.core.db.connect() as conn:
            state: str | None = conn.execute(
                select(_TABLE.c.state).where(_TABLE.c.query_execution_id == self.query_execution_id)).scalar()
            return state

    def _update(self, *, active_only: bool = True, **values: Any) -> bool:
        """Change the execution's row; with ``active_only`` only while QUEUED or RUNNING. True if changed."""
        return self.hot.update(self.query_execution_id, values, active_only=active_only)


def _batches(reader: Any) -> Iterable[Any]:
    """The record batches of a RecordBatchReader (or any iterable of batches)."""
    if hasattr(reader, "read_next_batch"):
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
    else:
        yield from reader
