"""Job bookmarks (Glue ``GetJobBookmark``, ``ResetJobBookmark``): where an incremental job's next run starts.

A database job's bookmark is its watermark — the highest bookmark-key value
loaded so far, with its type (``{"column": "updated_at", "watermark":
{"type": "datetime", "value": "…"}}``); the next run loads the rows above it.
A file job's bookmark is the files it loaded (path → ETag, or size and
modification time of a local file); the next run loads the other files. A
bookmark moves only when a run succeeds; resetting it makes the next run
load everything again.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.ingest.core import IngestCore, job_crn
from crispml.services.ingest.errors import ConcurrentRunsExceededException
from crispml.services.ingest.specs import JobBookmarkResponse, JobNameRequest
from crispml.spine.operations import operation


class BookmarkOps(IngestCore):
    """Reading and resetting job bookmarks."""

    @operation("GetJobBookmark", resource=lambda r: job_crn(r.job_name), mutating=False)
    def get_job_bookmark(self, ctx: CallContext, request: JobNameRequest) -> JobBookmarkResponse:
        """Show where the job's next incremental run starts (its watermark, or the files it loaded)."""
        with self._reading() as session:
            return JobBookmarkResponse(job_bookmark_entry=self._bookmark_entity(self._job(session, request.job_name)))

    @operation("ResetJobBookmark", resource=lambda r: job_crn(r.job_name))
    def reset_job_bookmark(self, ctx: CallContext, request: JobNameRequest) -> JobBookmarkResponse:
        """Forget the job's bookmark (not while it runs): its next run loads everything again."""
        self._settle([request.job_name])

        def work(session: Session) -> JobBookmarkResponse:
            row = self._job(session, request.job_name, lock=True)
            active = self._active_run(session, row.name)
            if active is not None:
                raise ConcurrentRunsExceededException(
                    f"job {row.name!r} has run {active.run_id} in progress ({active.state}); reset its bookmark "
                    "when the run has ended")
            row.bookmark, row.bookmark_run_id, row.bookmark_updated_at = None, None, self.clock.now()
            return JobBookmarkResponse(job_bookmark_entry=self._bookmark_entity(row))

        return self._writing(work)
