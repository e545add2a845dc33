"""Ingest requests and responses: Glue's job operations and fields, in snake_case.

Checked here, once, so SDK, CLI and REST refuse the same definitions the same
way: a job name fits a resource name; a job has exactly one source; lake paths
are normalised to ``lake://bucket/key`` (``s3://`` is the same lake) and local
paths made absolute (a later run from another folder reads the same files); a
connection URL parses as a SQLAlchemy URL of a known dialect (a relative SQLite
path made absolute) and the error never repeats it with its password; a table
source is ``[schema.]table``, a query source one SELECT; an incremental job over
a database names exactly one bookmark key (the watermark column), over files
none (files are remembered by name and ETag), and never overwrites its target.
Whether the target table exists, and of which kind, is checked by the
operation, which asks the catalog as the caller.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, Field, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from crispml.core.hive import check_location
from crispml.core.plugins import redact
from crispml.services.ingest.entities import (
    BatchStopJobRunError,
    BookmarkOption,
    DatabaseSource,
    FileSource,
    Job,
    JobBookmarkEntry,
    JobRun,
    JobRunId,
    JobRunState,
    JobSource,
    JobTarget,
)
from crispml.services.ingest.errors import InvalidInputException
from crispml.spine.models import Request, Response, Shape

_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_CATALOG_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,254}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SQL_NAME = r"[A-Za-z_][A-Za-z0-9_$]*"
_TABLE = re.compile(rf"^{_SQL_NAME}(\.{_SQL_NAME})?$")
_LAKE_SCHEMES = ("lake://", "s3://", "s3a://")
MAX_BATCH_SIZE = 1_000_000


def _job_name(name: str) -> str:
    if not _JOB_NAME.match(name):
        raise InvalidInputException(
            f"job name {name!r} must be 1-255 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


JobName = Annotated[str, AfterValidator(_job_name), Field(description="Job name.")]
RunId = Annotated[str, Field(min_length=1, max_length=64, description="Job run id (jr-…).")]
NextToken = Annotated[str | None, Field(description="Token from the previous page.")]


# -- checking a definition ------------------------------------------------------------------


def source_path(text: str) -> str:
    """A lake path as ``lake://bucket/key`` (an object or a prefix), or a local path made absolute."""
    given = text.strip()
    for scheme in _LAKE_SCHEMES:
        if given.startswith(scheme):
            bucket, _, key = given[len(scheme):].partition("/")
            if not _BUCKET.match(bucket):
                raise InvalidInputException(f"path {text!r} does not name a valid bucket ({bucket!r})")
            if any(s in (".", "..") for s in key.split("/")):
                raise InvalidInputException(f"path {text!r} must not hold '.' or '..' segments")
            return f"lake://{bucket}/{key}"
    if given.startswith("file://"):
        given = unquote(urlsplit(given).path)
    elif "://" in given:
        raise InvalidInputException(
            f"path {text!r} must be a lake path (s3://bucket/prefix/) or a local file or folder")
    if not given:
        raise InvalidInputException("a source path must not be empty")
    return os.path.abspath(os.path.expanduser(given))


def is_lake_path(path: str) -> bool:
    return path.startswith("lake://")


def source_url(text: str) -> URL:
    """A SQLAlchemy URL of a dialect SQLAlchemy knows; ``postgresql://`` uses psycopg 3.

    The parser's own messages repeat the URL, password included, so they are never shown.
    """
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise InvalidInputException(
            f"ConnectionUrl {redact(text)!r} is not a SQLAlchemy database URL; write one such as "
            "'postgresql://user:password@host:5432/db' or 'sqlite:////path/to/file.db'") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise InvalidInputException(
            f"ConnectionUrl {redact(text)!r}: SQLAlchemy has no database dialect {url.drivername!r} "
            "(e.g. postgresql, sqlite, mysql)") from None
    return url


def _check_file_source(source: FileSource) -> None:
    source.paths = [source_path(p) for p in source.paths]
    options = source.format_options
    for name, value in (("Separator", options.separator), ("QuoteChar", options.quote_char),
                        ("Escaper", options.escaper)):
        if value is not None and len(value) != 1:
            raise InvalidInputException(f"FormatOptions {name} must be one character, not {value!r}")
    if options.separator == options.quote_char:
        raise InvalidInputException("FormatOptions Separator and QuoteChar must differ")


def _check_database_source(source: DatabaseSource) -> None:
    url = source_url(source.connection_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:") and not os.path.isabs(url.database):
        source.connection_url = url.set(database=os.path.abspath(url.database)).render_as_string(
            hide_password=False)
    if (source.table is None) == (source.query is None):
        raise InvalidInputException("a DatabaseSource reads either a Table or a Query (one SELECT), not both "
                                    "or neither")
    if source.table is not None and not _TABLE.match(source.table):
        raise InvalidInputException(f"Table {source.table!r} must be a table name, optionally with its schema "
                                    "('public.orders')")
    if source.query is not None:
        query = source.query.strip().rstrip(";").strip()
        if not re.match(r"(?is)^(select|with)\b", query) or ";" in query:
            raise InvalidInputException("Query must be one SELECT statement (it may start with WITH)")
        source.query = query
    if not 1 <= source.batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputException(f"BatchSize must be 1-{MAX_BATCH_SIZE:,} rows, not {source.batch_size}")


def check_definition(source: JobSource, target: JobTarget, option: BookmarkOption, keys: list[str]) -> list[str]:
    """Check (and normalise in place) a job's source, target and bookmark; return the bookmark keys."""
    if (source.file_source is None) == (source.database_source is None):
        raise InvalidInputException(
            'a job needs exactly one source: Source={"FileSource": {"Paths": [...], "Format": "csv"}} or '
            'Source={"DatabaseSource": {"ConnectionUrl": "...", "Table": "..."}}')
    if source.file_source is not None:
        _check_file_source(source.file_source)
    if source.database_source is not None:
        _check_database_source(source.database_source)
    for what in ("database_name", "table_name"):
        value = getattr(target, what).lower()
        if not _CATALOG_NAME.match(value):
            raise InvalidInputException(f"Target {what} {getattr(target, what)!r} is not a catalog name")
        setattr(target, what, value)
    if target.location is not None:
        target.location = check_location(target.location, what="Target Location", error=InvalidInputException)
    if target.table_format != "iceberg" and target.write_mode == "OVERWRITE":
        raise InvalidInputException(
            f"a job that creates an external ({target.table_format}) table adds files to it (WriteMode APPEND); "
            "to replace its rows each run, let it create a managed table (TableFormat iceberg) or use "
            "TargetTablePrepMode TRUNCATE_BEFORE_LOAD")
    incremental = option != "job-bookmark-disable"
    if source.database_source is not None and incremental and len(keys) != 1:
        raise InvalidInputException(
            "an incremental job over a database needs exactly one JobBookmarkKeys column, increasing with every "
            "new row (an id, or an updated_at timestamp): rows above the last run's highest value are loaded")
    if source.file_source is not None and keys:
        raise InvalidInputException("JobBookmarkKeys apply to database sources; a file job's bookmark remembers "
                                    "the files it loaded")
    if not incremental and keys:
        raise InvalidInputException("JobBookmarkKeys need JobBookmarkOption 'job-bookmark-enable'")
    if incremental and target.write_mode == "OVERWRITE":
        raise InvalidInputException("an incremental job appends what is new; it cannot OVERWRITE its target "
                                    "(use WriteMode APPEND, or JobBookmarkOption 'job-bookmark-disable')")
    for key in keys:
        if not re.match(rf"^{_SQL_NAME}$", key):
            raise InvalidInputException(f"bookmark key {key!r} must be a column name")
    return keys


_SOURCE = Field(description='{"FileSource": {"Paths": ["s3://bucket/raw/"], "Format": "csv"}} or '
                            '{"DatabaseSource": {"ConnectionUrl": "postgresql://user@host/db", "Table": "orders"}}.')
_TARGET = Field(description='{"DatabaseName": "sales", "TableName": "orders", "WriteMode": "APPEND"}; a missing '
                            'table is created from the source (a managed table; "TableFormat": "parquet" for an '
                            'external one) at "Location" or under the database\'s LocationUri, and '
                            '"TargetTablePrepMode" (DROP_AND_CREATE | TRUNCATE_BEFORE_LOAD | DO_NOTHING) says '
                            'what each full load does to an existing one.')
_OPTION: BookmarkOption = Field("job-bookmark-disable",
                description="job-bookmark-enable: each run loads only what is new; disable: everything each run; "
                            "pause: what is new, without moving the bookmark.")
_KEYS: list[str] = Field(default_factory=list,
                         description='The watermark column of a database source, e.g. ["updated_at"].')


# -- jobs ------------------------------------------------------------------------------------


class CreateJobRequest(Request):
    name: JobName
    description: str | None = Field(None, max_length=2048)
    source: JobSource = _SOURCE
    target: JobTarget = _TARGET
    job_bookmark_option: BookmarkOption = _OPTION
    job_bookmark_keys: list[str] = _KEYS

    @model_validator(mode="after")
    def _check(self) -> CreateJobRequest:
        self.job_bookmark_keys = check_definition(self.source, self.target, self.job_bookmark_option,
                                                  self.job_bookmark_keys)
        return self


class CreateJobResponse(Response):
    name: str


class JobUpdate(Shape):
    """A job's new definition; as in Glue, it replaces the whole definition."""

    description: str | None = Field(None, max_length=2048)
    source: JobSource
    target: JobTarget
    job_bookmark_option: BookmarkOption = "job-bookmark-disable"
    job_bookmark_keys: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> JobUpdate:
        self.job_bookmark_keys = check_definition(self.source, self.target, self.job_bookmark_option,
                                                  self.job_bookmark_keys)
        return self


class UpdateJobRequest(Request):
    job_name: JobName
    job_update: JobUpdate = Field(description="The whole new definition (Source, Target, bookmark options). "
                                              "A ConnectionUrl whose password is *** keeps the stored password.")


class JobNameRequest(Request):
    job_name: JobName


class UpdateJobResponse(Response):
    job_name: str


class DeleteJobResponse(Response):
    job_name: str


class GetJobResponse(Response):
    job: Job


class ListJobsRequest(Request):
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=1000, description="Job names per page (1-1000).")


class ListJobsResponse(Response):
    job_names: list[str]
    next_token: str | None = None


# -- runs ------------------------------------------------------------------------------------


class StartJobRunResponse(Response):
    """The run, ended: StartJobRun runs the load in the calling process and returns when it is over."""

    job_run_id: str
    job_run_state: JobRunState
    job_run: JobRun


class GetJobRunRequest(Request):
    job_name: JobName
    run_id: RunId


class GetJobRunResponse(Response):
    job_run: JobRun


class GetJobRunsRequest(Request):
    job_name: JobName
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=200, description="Runs per page (1-200), newest first.")


class GetJobRunsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"job_runs": [
        "id", "job_run_state", "started_on", "completed_on", "rows_read", "rows_written", "error_message"]}
    job_runs: list[JobRun]
    next_token: str | None = None


class BatchStopJobRunRequest(Request):
    job_name: JobName
    job_run_ids: list[RunId] = Field(min_length=1, max_length=25, description="1-25 run ids.")


class BatchStopJobRunResponse(Response):
    successful_submissions: list[JobRunId] = Field(default_factory=list)
    errors: list[BatchStopJobRunError] = Field(default_factory=list)


# -- bookmarks -------------------------------------------------------------------------------


class JobBookmarkResponse(Response):
    job_bookmark_entry: JobBookmarkEntry

