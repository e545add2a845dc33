"""Load job definitions (Glue ``CreateJob``, ``GetJob``, ``ListJobs``, ``UpdateJob``, ``DeleteJob``).

A job names its source, its target table and whether runs are incremental.
The target is looked up in the catalog as the caller when the job is created
or updated, so a caller who cannot see the table cannot point a job at it;
an external target takes appends only. A target that does not exist is
created by the first run, from the source's schema (``create.py``): its
database must exist, and the table needs a place for its files — the
Target's ``Location``, or the database's ``LocationUri``. The definition is
kept as one JSON document with the connection URL's password hidden; the
real URL is kept beside it and never returned. UpdateJob replaces the whole
definition (as Glue's does); a ConnectionUrl given back with ``***`` for its
password keeps the stored one, and a changed source or bookmark key resets
the bookmark (the old watermark says nothing about the new source).
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.paging import decode_token, encode_token
from crispml.services.catalog.service import CatalogService, DatabaseRequest, Table, TableRequest
from crispml.services.ingest.core import IngestCore, job_crn
from crispml.services.ingest.entities import JobSource, JobTarget
from crispml.services.ingest.errors import (
    AlreadyExistsException,
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.ingest.specs import (
    CreateJobRequest,
    CreateJobResponse,
    DeleteJobResponse,
    GetJobResponse,
    JobNameRequest,
    ListJobsRequest,
    ListJobsResponse,
    UpdateJobRequest,
    UpdateJobResponse,
    source_url,
)
from crispml.services.ingest.store import JobRow, JobRunRow
from crispml.spine.operations import operation


def _document(description: str | None, source: JobSource, target: JobTarget, option: str, keys: list[str]) -> str:
    """The stored definition: as given, with the connection URL's password hidden."""
    return json.dumps({"description": description, "source": source.model_dump(mode="json", exclude_none=True),
                       "target": target.model_dump(mode="json"), "job_bookmark_option": option,
                       "job_bookmark_keys": keys}, sort_keys=True)


def _connection_url(source: JobSource) -> str | None:
    return source.database_source.connection_url if source.database_source is not None else None


def page_position(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return str(decode_token(token))
    except ValueError:
        raise InvalidInputException("NextToken is not valid; pass the one the previous page returned") from None


def new_table_location(target: JobTarget, database_location: str | None) -> str:
    """Where a table the job creates keeps its files: its Location, else under the database's LocationUri."""
    if target.location is not None:
        return target.location
    if database_location:
        return database_location.rstrip("/") + f"/{target.table_name}/"
    raise InvalidInputException(
        f"table {target.database_name}.{target.table_name} does not exist, and the job would create it but "
        f"has nowhere to put its files: give the Target a Location (s3://bucket/prefix/), or create the "
        f"table first")


def check_target(table: Table, mode: str) -> None:
    """An external table takes new files (APPEND) only."""
    if not table.is_iceberg and mode == "OVERWRITE":
        raise InvalidInputException(
            f"table {table.database_name}.{table.name} is an external table over files: a load adds files to it "
            "(WriteMode APPEND); to replace its rows, load a managed (Iceberg) table")


class JobOps(IngestCore):
    """Load job definitions."""

    def _check_target(self, ctx: CallContext, target: JobTarget) -> None:
        """The target table, if it exists, takes the job's writes; if not, the job can create it."""
        catalog = self.peer(CatalogService)
        try:
            table = catalog.get_table(ctx, TableRequest(database_name=target.database_name,
                                                        name=target.table_name)).table
        except EntityNotFoundException:
            database = catalog.get_database(ctx, DatabaseRequest(name=target.database_name)).database
            new_table_location(target, database.location_uri)
            return
        check_target(table, target.write_mode)

    @operation("CreateJob", resource=lambda r: job_crn(r.name))
    def create_job(self, ctx: CallContext, request: CreateJobRequest) -> CreateJobResponse:
        """Define a load job: a source (files or a database), a target table, full or incremental runs."""
        self._check_target(ctx, request.target)
        document = _document(request.description, request.source, request.target, request.job_bookmark_option,
                             request.job_bookmark_keys)

        def work(session: Session) -> None:
            if session.get(JobRow, request.name) is not None:
                raise AlreadyExistsException(f"job {request.name!r} already exists; change it with "
                                             "'crispml ingest update-job'")
            now = self.clock.now()
            session.add(JobRow(name=request.name, document=document, connection_url=_connection_url(request.source),
                               bookmark_version=0, created_at=now, updated_at=now, created_by=ctx.principal))

        self._writing(work)
        return CreateJobResponse(name=request.name)

    @operation("GetJob", resource=lambda r: job_crn(r.job_name), mutating=False)
    def get_job(self, ctx: CallContext, request: JobNameRequest) -> GetJobResponse:
        """Show a job's definition (the connection URL without its password)."""
        with self._reading() as session:
            return GetJobResponse(job=self._job_entity(self._job(session, request.job_name)))

    @operation("ListJobs", resource=lambda r: job_crn(None), mutating=False)
    def list_jobs(self, ctx: CallContext, request: ListJobsRequest) -> ListJobsResponse:
        """List the jobs' names, a page at a time."""
        after = page_position(request.next_token)
        query = select(JobRow.name)
        if after is not None:
            query = query.where(JobRow.name > after)
        with self._reading() as session:
            names = list(session.scalars(query.order_by(JobRow.name).limit(request.max_results + 1)))
        page = names[:request.max_results]
        return ListJobsResponse(job_names=page,
                                next_token=encode_token(page[-1]) if len(names) > len(page) else None)

    @operation("UpdateJob", resource=lambda r: job_crn(r.job_name))
    def update_job(self, ctx: CallContext, request: UpdateJobRequest) -> UpdateJobResponse:
        """Replace a job's definition (not while it runs); a new source or bookmark key resets the bookmark."""
        given = request.job_update
        self._check_target(ctx, given.target)
        self._settle([request.job_name])

        def work(session: Session) -> None:
            row = self._job(session, request.job_name, lock=True)
            self._idle(session, row.name, "updated")
            url = _connection_url(given.source)
            if url is not None and source_url(url).password == "***" and row.connection_url:
                stored = source_url(row.connection_url).password
                url = source_url(url).set(password=stored).render_as_string(hide_password=False)
            document = _document(given.description, given.source, given.target, given.job_bookmark_option,
                                 given.job_bookmark_keys)
            before, after = json.loads(row.document), json.loads(document)
            if (before["source"], before["job_bookmark_keys"]) != (after["source"], after["job_bookmark_keys"]):
                row.bookmark, row.bookmark_run_id, row.bookmark_updated_at = None, None, self.clock.now()
            row.document, row.connection_url, row.updated_at = document, url, self.clock.now()

        self._writing(work)
        return UpdateJobResponse(job_name=request.job_name)

    @operation("DeleteJob", resource=lambda r: job_crn(r.job_name))
    def delete_job(self, ctx: CallContext, request: JobNameRequest) -> DeleteJobResponse:
        """Delete a job, its run history and its bookmark (not while it runs); its table keeps its rows."""
        self._settle([request.job_name])

        def work(session: Session) -> None:
            row = self._job(session, request.job_name, lock=True)
            self._idle(session, row.name, "deleted")
            session.execute(delete(JobRunRow).where(JobRunRow.job_name == row.name))
            session.delete(row)

        self._writing(work)
        return DeleteJobResponse(job_name=request.job_name)

    def _idle(self, session: Session, job: str, what: str) -> None:
        active = self._active_run(session, job)
        if active is not None:
            raise ConcurrentRunsExceededException(
                f"job {job!r} cannot be {what} while its run {active.run_id} is {active.state}; wait for it or stop "
                f"it with: crispml ingest batch-stop-job-run --job-name {job} --job-run-ids '[\"{active.run_id}\"]'")

