"""Shared machinery of the ingest operations: lookups with helpful misses, entities, and closing runs
whose process died.

A run records its owner (``host:pid``) and a heartbeat. When any operation
on a job finds one of its runs active but its owner gone — on this host by
its pid, elsewhere by a heartbeat older than :data:`STALE_AFTER` — it closes
the run, so nothing stays RUNNING for ever:

- still reading: FAILED; nothing was committed, the bookmark is unchanged;
- committing to a managed table: if the catalog has a snapshot tagged with
  the run id, the commit landed before the process died, so the run is
  SUCCEEDED and the bookmark it recorded is kept (rolled forward);
  otherwise FAILED;
- publishing files to an external table: the files it recorded are deleted
  and the run FAILED (rolled back).

The roll-back and the check act as the principal that started the run: the
work is that principal's, finished on its behalf.
"""

from __future__ import annotations

import difflib
import json
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.names import crn
from crispml.core.owners import owner_alive
from crispml.services.catalog.service import CatalogService
from crispml.services.ingest.entities import Job, JobBookmarkEntry, JobRun, JobRunState
from crispml.services.ingest.errors import EntityNotFoundException
from crispml.services.ingest.store import JobRow, JobRunRow
from crispml.services.lake.service import LakeService
from crispml.spine.operations import RuntimeAccess

#: A run on another host is taken for dead when its heartbeat is older than this.
STALE_AFTER = timedelta(minutes=10)
#: States of a run that has not ended.
ACTIVE = ("STARTING", "RUNNING", "STOPPING")


def job_crn(name: str | None) -> str:
    return crn("ingest", f"job/{name or '*'}")


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def dumps(value: Any) -> str | None:
    return json.dumps(value, sort_keys=True) if value is not None else None


class IngestCore(RuntimeAccess):
    """Helpers shared by the ingest operation groups."""

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _job(session: Session, name: str, *, lock: bool = False) -> JobRow:
        row = session.get(JobRow, name, with_for_update=lock)
        if row is None:
            names = session.scalars(select(JobRow.name)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise EntityNotFoundException(f"job {name!r} does not exist{hint}; list them with "
                                          "'crispml ingest list-jobs'")
        return row

    @staticmethod
    def _run(session: Session, job: str, run_id: str, *, lock: bool = False) -> JobRunRow:
        query = select(JobRunRow).where(JobRunRow.job_name == job, JobRunRow.run_id == run_id)
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise EntityNotFoundException(f"job {job!r} has no run {run_id!r}; list them with "
                                          f"'crispml ingest get-job-runs --job-name {job}'")
        return row

    @staticmethod
    def _active_run(session: Session, job: str) -> JobRunRow | None:
        return session.scalars(select(JobRunRow).where(JobRunRow.job_name == job, JobRunRow.state.in_(ACTIVE))
                               .order_by(JobRunRow.seq.desc()).limit(1)).first()

    # -- entities --------------------------------------------------------------------------

    @staticmethod
    def _job_entity(row: JobRow) -> Job:
        return Job.model_validate({**json.loads(row.document), "name": row.name, "created_on": row.created_at,
                                   "last_modified_on": row.updated_at, "created_by": row.created_by})

    def _run_entity(self, row: JobRunRow) -> JobRun:
        if row.execution_seconds is not None:
            seconds = row.execution_seconds
        else:
            seconds = ((row.completed_at or self.clock.now()) - row.started_at).total_seconds()
        return JobRun(
            id=row.run_id, job_name=row.job_name, job_run_state=cast(JobRunState, row.state),
            started_on=row.started_at, last_modified_on=row.updated_at, completed_on=row.completed_at,
            execution_time=max(0, round(seconds)), error_message=row.error_message, started_by=row.started_by,
            rows_read=row.rows_read, rows_written=row.rows_written, bytes_read=row.bytes_read,
            bytes_written=row.bytes_written, files_read=row.files_read, snapshot_id=row.snapshot_id,
            bookmark_before=row.bookmark_before, bookmark_after=row.bookmark_after,
        )

    @staticmethod
    def _bookmark_entity(row: JobRow) -> JobBookmarkEntry:
        return JobBookmarkEntry(job_name=row.name, version=row.bookmark_version, run_id=row.bookmark_run_id,
                                job_bookmark=row.bookmark, updated_on=row.bookmark_updated_at)

    # -- runs whose process died -------------------------------------------------------------

    def _alive(self, row: JobRunRow) -> bool:
        return owner_alive(row.owner, heartbeat_at=row.heartbeat_at, now=self.clock.now(), stale_after=STALE_AFTER)

    def _settle(self, jobs: list[str] | None) -> None:
        """Close the active runs (of ``jobs``, or of every job) whose process is gone."""
        query = select(JobRunRow).where(JobRunRow.state.in_(ACTIVE))
        if jobs is not None:
            query = query.where(JobRunRow.job_name.in_(jobs))
        with self._reading() as session:
            stale = [r.run_id for r in session.scalars(query) if not self._alive(r)]
        for run_id in stale:
            self._close_dead(run_id)

    def _close_dead(self, run_id: str) -> None:
        with self._reading() as session:
            row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id)).one()
            phase, commit, principal = row.phase, loads(row.commit), row.started_by
            died = row.owner or "unknown"
        state, snapshot, written = "FAILED", None, 0
        message = f"the run was interrupted: the process running it ({died}) ended before it finished"
        if phase == "COMMITTING" and commit is not None:
            ctx = CallContext(principal=principal, source="ingest-recovery")
            if commit["kind"] == "managed":
                state, snapshot, written, message = self._roll_forward(ctx, run_id, commit, message)
            else:
                from crispml.services.ingest.targets.external import delete_uploads

                delete_uploads(self.peer(LakeService), ctx, [(b, k) for b, k in commit["keys"]])
                message += "; the files it had added to the table were deleted"

        def work(session: Session) -> None:
            row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id).with_for_update()).one()
            if row.state not in ACTIVE or self._alive(row):
                return  # closed meanwhile, or it was not dead after all
            now = self.clock.now()
            row.state, row.phase, row.owner, row.heartbeat_at = state, "DONE", None, None
            row.completed_at = row.updated_at = now
            row.execution_seconds = (now - row.started_at).total_seconds()
            row.error_message = None if state == "SUCCEEDED" else message
            if state == "SUCCEEDED":
                row.snapshot_id, row.bytes_written, row.rows_written = snapshot, written, row.rows_read
                self._keep_bookmark(session, row)

        self._writing(work)

    def _roll_forward(self, ctx: CallContext, run_id: str, commit: dict[str, Any],
                      message: str) -> tuple[str, int | None, int, str]:
        from crispml.services.ingest.targets.managed import find_commit

        catalog = self.peer(CatalogService)
        try:
            found = find_commit(catalog, ctx, run_id, commit["database"], commit["table"])
        except CrispmlError as exc:
            return "FAILED", None, 0, (f"{message}; whether its commit reached table {commit['database']}."
                                       f"{commit['table']} could not be checked ({exc.message}), so the bookmark "
                                       "was left as it was")
        if found is None:
            return "FAILED", None, 0, message
        return "SUCCEEDED", found[0], found[1], message

    def _keep_bookmark(self, session: Session, run: JobRunRow) -> None:
        """A run succeeded: its bookmark becomes the job's (if the job keeps one and it moved)."""
        job = session.get(JobRow, run.job_name, with_for_update=True)
        if job is None:
            return
        option = json.loads(job.document).get("job_bookmark_option")
        if option != "job-bookmark-enable" or run.bookmark_after is None or run.bookmark_after == job.bookmark:
            return
        job.bookmark, job.bookmark_run_id = run.bookmark_after, run.run_id
        job.bookmark_version += 1
        job.bookmark_updated_at = self.clock.now()
