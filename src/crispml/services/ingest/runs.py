"""Job runs (Glue ``StartJobRun``, ``GetJobRun``, ``GetJobRuns``, ``BatchStopJobRun``) and their life cycle.

``StartJobRun`` runs the load in the calling process and returns when it
has ended, rather than queueing it for a background worker: the embedded
platform has no long-lived process to hand it to, and the caller's identity
is right there to read and write with. What Glue's asynchronous API
promises still holds, because the state lives in the database: the run is
``STARTING`` (committed before anything is read) and then ``RUNNING`` for
every other caller, with its rows and bytes so far; a job has at most one
run in progress (``ConcurrentRunsExceededException``, Glue's default of one
concurrent run); ``BatchStopJobRun`` from anywhere sets ``STOPPING`` and the
run ends ``STOPPED`` at its next batch, having committed nothing. A run
that fails is recorded ``FAILED`` with its error message, and StartJobRun
then raises that error (naming the run), so a script sees the failure in
its exit code.

A run's process reports after every batch and on a heartbeat thread, and
records, before it commits, what it is committing; if the process dies the
run is closed by the next operation on the job (``core.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.ids import new_id
from crispml.core.owners import process_owner
from crispml.core.paging import encode_token
from crispml.services.ingest.core import ACTIVE, IngestCore, dumps, job_crn, loads
from crispml.services.ingest.entities import BatchStopJobRunError, ErrorDetail, Job, JobRunId
from crispml.services.ingest.errors import (
    ConcurrentModificationException,
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.ingest.jobs import page_position
from crispml.services.ingest.sources.base import Progress, StopRequested
from crispml.services.ingest.specs import (
    BatchStopJobRunRequest,
    BatchStopJobRunResponse,
    GetJobRunRequest,
    GetJobRunResponse,
    GetJobRunsRequest,
    GetJobRunsResponse,
    JobNameRequest,
    StartJobRunResponse,
)
from crispml.services.ingest.store import JobRunRow
from crispml.spine.operations import operation

if TYPE_CHECKING:
    from crispml.services.ingest.load import Outcome

#: Seconds between heartbeats while a run waits on its source or its commit.
HEARTBEAT_SECONDS = 30.0


class _Heartbeat:
    """A daemon thread that calls ``beat`` every ``every`` seconds until the run ends."""

    def __init__(self, beat: Callable[[], None], every: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(beat, every), name="ingest-heartbeat", daemon=True)

    def _loop(self, beat: Callable[[], None], every: float) -> None:
        while not self._stop.wait(every):
            try:
                beat()
            except CrispmlError:
                continue  # the metadata DB was briefly unreachable: the next beat (or batch) reports

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _RunHooks:
    """What the loader reports into the run's row."""

    def __init__(self, ops: RunOps, run_id: str, keeps_bookmark: bool) -> None:
        self.ops = ops
        self.run_id = run_id
        self.keeps_bookmark = keeps_bookmark

    def checkpoint(self, progress: Progress) -> bool:
        return self.ops._checkpoint(self.run_id, progress)

    def committing(self, commit: dict[str, Any], bookmark_after: dict[str, Any] | None) -> None:
        self.ops._committing(self.run_id, commit, bookmark_after if self.keeps_bookmark else None)


class RunOps(IngestCore):
    """Starting, watching and stopping job runs."""

    @operation("StartJobRun", resource=lambda r: job_crn(r.job_name))
    def start_job_run(self, ctx: CallContext, request: JobNameRequest) -> StartJobRunResponse:
        """Run a load job now, as the caller; returns the run when it has ended (SUCCEEDED or STOPPED)."""
        self._settle([request.job_name])
        run_id = new_id("jr")

        def claim(session: Session) -> tuple[Job, str | None, str | None]:
            job = self._job(session, request.job_name, lock=True)
            active = self._active_run(session, job.name)
            if active is not None:
                raise ConcurrentRunsExceededException(
                    f"job {job.name!r} already has run {active.run_id} in progress ({active.state}); a job runs "
                    "once at a time: wait for it, or stop it with 'crispml ingest batch-stop-job-run'")
            now = self.clock.now()
            session.add(JobRunRow(run_id=run_id, job_name=job.name, state="STARTING", phase="READING",
                                  started_by=ctx.principal, started_at=now, updated_at=now, rows_read=0,
                                  rows_written=0, bytes_read=0, bytes_written=0, files_read=0,
                                  bookmark_before=job.bookmark, owner=process_owner(), heartbeat_at=now))
            return self._job_entity(job), job.connection_url, job.bookmark

        job, url, bookmark = self._writing(claim)
        keeps = job.job_bookmark_option == "job-bookmark-enable"
        from crispml.services.ingest.load import Loader  # the readers and writers (pyarrow): here

        loader = Loader(self.runtime, ctx, run_id, job, url, loads(bookmark), _RunHooks(self, run_id, keeps))
        progress = Progress()
        started = time.perf_counter()
        try:
            with _Heartbeat(lambda: self._beat(run_id), HEARTBEAT_SECONDS):
                outcome = loader.run(progress)
        except StopRequested:
            self._finish(run_id, "STOPPED", None, progress, None, time.perf_counter() - started)
        except CrispmlError as exc:
            self._finish(run_id, "FAILED", exc.message, progress, None, time.perf_counter() - started)
            raise type(exc)(f"job run {run_id} of job {job.name!r} failed: {exc.message}") from exc
        except BaseException as exc:
            self._finish(run_id, "FAILED", f"internal error: {type(exc).__name__}: {exc}", progress, None,
                         time.perf_counter() - started)
            raise
        else:
            self._finish(run_id, "SUCCEEDED", None, progress, outcome, time.perf_counter() - started)
        with self._reading() as session:
            run = self._run_entity(self._run(session, job.name, run_id))
        return StartJobRunResponse(job_run_id=run_id, job_run_state=run.job_run_state, job_run=run)

    @operation("GetJobRun", resource=lambda r: job_crn(r.job_name), mutating=False)
    def get_job_run(self, ctx: CallContext, request: GetJobRunRequest) -> GetJobRunResponse:
        """Show one run: state, rows and bytes read and written, times, error message."""
        self._settle([request.job_name])
        with self._reading() as session:
            self._job(session, request.job_name)
            return GetJobRunResponse(job_run=self._run_entity(self._run(session, request.job_name, request.run_id)))

    @operation("GetJobRuns", resource=lambda r: job_crn(r.job_name), mutating=False)
    def get_job_runs(self, ctx: CallContext, request: GetJobRunsRequest) -> GetJobRunsResponse:
        """List a job's runs, newest first, a page at a time."""
        self._settle([request.job_name])
        after = page_position(request.next_token)
        with self._reading() as session:
            self._job(session, request.job_name)
            query = select(JobRunRow).where(JobRunRow.job_name == request.job_name)
            if after is not None:
                if not after.isdigit():
                    raise InvalidInputException("NextToken is not valid; pass the one the previous page returned")
                query = query.where(JobRunRow.seq < int(after))
            rows = list(session.scalars(query.order_by(JobRunRow.seq.desc()).limit(request.max_results + 1)))
            page = rows[:request.max_results]
            runs = [self._run_entity(r) for r in page]
        more = len(rows) > len(page)
        return GetJobRunsResponse(job_runs=runs, next_token=_token(page[-1].seq) if more else None)

    @operation("BatchStopJobRun", resource=lambda r: job_crn(r.job_name))
    def batch_stop_job_run(self, ctx: CallContext, request: BatchStopJobRunRequest) -> BatchStopJobRunResponse:
        """Ask runs in progress to stop: STOPPING now, STOPPED at their next batch, with nothing committed."""
        self._settle([request.job_name])

        def work(session: Session) -> BatchStopJobRunResponse:
            self._job(session, request.job_name)
            response = BatchStopJobRunResponse()
            for run_id in request.job_run_ids:
                try:
                    row = self._run(session, request.job_name, run_id, lock=True)
                except EntityNotFoundException as exc:
                    response.errors.append(_stop_error(request.job_name, run_id, exc.code, exc.message))
                    continue
                if row.state not in ACTIVE:
                    response.errors.append(_stop_error(
                        request.job_name, run_id, "InvalidInputException",
                        f"run {run_id} has ended ({row.state}); only a run in progress can be stopped"))
                    continue
                row.state, row.updated_at = "STOPPING", self.clock.now()
                response.successful_submissions.append(JobRunId(job_name=request.job_name, job_run_id=run_id))
            return response

        return self._writing(work)

    # -- the run's row, from the process running it -------------------------------------------

    def _own(self, session: Session, run_id: str) -> JobRunRow:
        row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id).with_for_update()).one()
        if row.state not in ACTIVE:
            raise ConcurrentModificationException(
                f"run {run_id} was closed ({row.state}) by another process that took it for dead; start a new run")
        return row

    def _beat(self, run_id: str) -> None:
        def work(session: Session) -> None:
            row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id).with_for_update()).one()
            if row.state in ACTIVE:
                row.heartbeat_at = self.clock.now()

        self._writing(work)

    def _checkpoint(self, run_id: str, progress: Progress) -> bool:
        """The run reports its progress; True when a stop was asked for."""
        def work(session: Session) -> bool:
            row = self._own(session, run_id)
            now = self.clock.now()
            if row.state == "STARTING":
                row.state = "RUNNING"
            row.rows_read, row.bytes_read, row.files_read = progress.rows_read, progress.bytes_read, progress.files_read
            row.heartbeat_at = row.updated_at = now
            return row.state == "STOPPING"

        return self._writing(work)

    def _committing(self, run_id: str, commit: dict[str, Any], bookmark_after: dict[str, Any] | None) -> None:
        def work(session: Session) -> bool:
            row = self._own(session, run_id)
            if row.state == "STOPPING":
                return True
            row.phase, row.commit, row.bookmark_after = "COMMITTING", json.dumps(commit), dumps(bookmark_after)
            row.heartbeat_at = row.updated_at = self.clock.now()
            return False

        if self._writing(work):
            raise StopRequested()

    def _finish(self, run_id: str, state: str, error: str | None, progress: Progress, outcome: Outcome | None,
                seconds: float) -> None:
        def work(session: Session) -> None:
            row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id).with_for_update()).one()
            if row.state not in ACTIVE:
                return  # closed by a process that took this one for dead
            now = self.clock.now()
            row.state, row.phase, row.error_message, row.owner, row.heartbeat_at = state, "DONE", error, None, None
            row.completed_at = row.updated_at = now
            row.execution_seconds = seconds
            row.rows_read, row.bytes_read, row.files_read = progress.rows_read, progress.bytes_read, progress.files_read
            if outcome is not None:
                row.rows_written, row.bytes_written = outcome.rows_written, outcome.bytes_written
                row.snapshot_id = outcome.snapshot_id
                self._keep_bookmark(session, row)
            else:
                row.bookmark_after = None

        self._writing(work)


def _token(seq: int) -> str:
    return encode_token(str(seq))


def _stop_error(job: str, run_id: str, code: str, message: str) -> BatchStopJobRunError:
    return BatchStopJobRunError(job_name=job, job_run_id=run_id,
                                error_detail=ErrorDetail(error_code=code, error_message=message))
