"""Ingest value objects: Glue's job, job-run and bookmark shapes in snake_case.

``FileSource``, ``DatabaseSource``, ``JobSource`` and ``JobTarget`` appear in
requests (CreateJob, UpdateJob) and in what GetJob returns, so they are
defined once here; the checks a request must pass live in ``specs.py``, so a
stored definition always reads back. A ``DatabaseSource``'s connection URL is
shown, dumped and audited without its password (``***``): the password lives
only in the job's row in the metadata DB.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

from crispml.core.plugins import redact
from crispml.spine.models import Shape

#: Glue's job-run states. A run is STARTING until its source is open, RUNNING while rows move,
#: STOPPING once BatchStopJobRun asked it to end, then SUCCEEDED, FAILED or STOPPED.
JobRunState = Literal["STARTING", "RUNNING", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED"]
#: Glue's ``--job-bookmark-option``: load everything each run, or only what is new since the last one.
BookmarkOption = Literal["job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause"]
#: A connection URL: written and read as given, but every dump (GetJob, the audit record) hides its password.
SecretUrl = Annotated[str, PlainSerializer(redact, return_type=str)]


class FormatOptions(Shape):
    """How CSV files are read (Glue's CSV format options); JSON lines and Parquet take none."""

    separator: str = ","
    quote_char: str = '"'
    escaper: str | None = None
    with_header: bool = True


class FileSource(Shape):
    """Files to load: lake objects or prefixes (``s3://bucket/prefix/``), or local files and folders."""

    paths: list[str] = Field(min_length=1, max_length=100)
    format: Literal["csv", "json", "parquet"]
    format_options: FormatOptions = Field(default_factory=FormatOptions)


class DatabaseSource(Shape):
    """Rows of a SQL database: a whole table or the rows a SELECT returns, read in batches."""

    connection_url: SecretUrl
    table: str | None = None
    query: str | None = None
    batch_size: int = 10_000


class JobSource(Shape):
    """Where a job's rows come from: exactly one of ``FileSource`` and ``DatabaseSource``."""

    file_source: FileSource | None = None
    database_source: DatabaseSource | None = None


#: DMS's ``TargetTablePrepMode``: what a full load does to its target table before loading it.
TargetTablePrepMode = Literal["DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD", "DO_NOTHING"]


class JobTarget(Shape):
    """The catalog table a job loads, whether a run adds rows or replaces them, and — as DMS's
    ``TargetTablePrepMode`` — what a full load does to the table first; a table that does not exist is
    created from the source's schema (``TableFormat``, at ``Location``)."""

    database_name: str
    table_name: str
    write_mode: Literal["APPEND", "OVERWRITE"] = "APPEND"
    target_table_prep_mode: TargetTablePrepMode | None = Field(
        None, description="DROP_AND_CREATE: each full load drops the table and creates it again from the "
                          "source's schema; TRUNCATE_BEFORE_LOAD: each full load empties it first; DO_NOTHING: "
                          "leave it as it is. Unset: create it if missing (as DROP_AND_CREATE does), else leave "
                          "it as it is.")
    table_format: Literal["iceberg", "parquet", "csv", "json"] = Field(
        "iceberg", description="The kind of table the job creates: iceberg (a managed table, the default) or "
                               "an external table of parquet, csv or json files.")
    location: str | None = Field(
        None, description="Where a table the job creates keeps its files (s3://bucket/prefix/); default: "
                          "the database's LocationUri followed by the table's name.")


class Job(BaseModel):
    """A load job's definition (Glue ``Job``)."""

    name: str
    description: str | None = None
    source: JobSource
    target: JobTarget
    job_bookmark_option: BookmarkOption = "job-bookmark-disable"
    job_bookmark_keys: list[str] = Field(default_factory=list)
    created_on: datetime
    last_modified_on: datetime
    created_by: str | None = None


class JobRun(BaseModel):
    """One run of a load job (Glue ``JobRun``), with what it read and wrote."""

    id: str
    job_name: str
    job_run_state: JobRunState
    started_on: datetime
    last_modified_on: datetime
    completed_on: datetime | None = None
    execution_time: int = Field(0, description="Seconds the run took (so far, while it runs).")
    error_message: str | None = None
    started_by: str
    rows_read: int = 0
    rows_written: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    files_read: int = 0
    snapshot_id: int | None = Field(None, description="The managed table's snapshot the run committed.")
    bookmark_before: str | None = Field(None, description="The job bookmark the run started from (JSON).")
    bookmark_after: str | None = Field(None, description="The job bookmark the run leaves (JSON).")


class JobBookmarkEntry(BaseModel):
    """Where a job's next incremental run starts (Glue ``JobBookmarkEntry``)."""

    job_name: str
    version: int = Field(0, description="How many runs advanced the bookmark.")
    run_id: str | None = Field(None, description="The run that last advanced it.")
    job_bookmark: str | None = Field(None, description="The bookmark as JSON (a watermark, or the files loaded).")
    updated_on: datetime | None = None


class JobRunId(BaseModel):
    job_name: str
    job_run_id: str


class ErrorDetail(BaseModel):
    error_code: str
    error_message: str


class BatchStopJobRunError(BaseModel):
    job_name: str
    job_run_id: str
    error_detail: ErrorDetail
