"""The ingest service (Glue batch loads, DMS full and incremental loads): one class combining the operations.

The design is Glue's job API, for one kind of job — a load:

- ``CreateJob`` defines a job: a ``Source`` — ``FileSource`` (CSV, JSON
  lines or Parquet files under lake prefixes, or local files read by the
  calling process) or ``DatabaseSource`` (a SQLAlchemy ``ConnectionUrl`` and
  a ``Table`` or a ``Query``) — a ``Target`` catalog table with a
  ``WriteMode`` (``APPEND``, or ``OVERWRITE`` for a managed table), and
  Glue's ``JobBookmarkOption``: ``job-bookmark-disable`` loads everything
  each run (DMS's full load), ``job-bookmark-enable`` only what is new (DMS's
  ongoing replication, by watermark: the rows whose ``JobBookmarkKeys``
  column is above the last run's highest value, or the files not loaded
  before), ``job-bookmark-pause`` what is new without moving the bookmark.
  A target table that does not exist is created by the first run from the
  source's schema (a managed table unless ``TableFormat`` says otherwise), and
  ``TargetTablePrepMode`` says, as on DMS, what each full load does to an
  existing one: ``DROP_AND_CREATE``, ``TRUNCATE_BEFORE_LOAD`` or
  ``DO_NOTHING`` (``create.py``).
  ``GetJob``, ``ListJobs``, ``UpdateJob`` and ``DeleteJob`` as in Glue.
- ``StartJobRun`` runs it (``runs.py``): a job run with Glue's states
  ``STARTING → RUNNING → SUCCEEDED | FAILED | STOPPED`` (``STOPPING`` after
  ``BatchStopJobRun``), rows and bytes read and written, start and end
  times and the error message, listed with ``GetJobRuns`` and shown with
  ``GetJobRun``. A run loads all or nothing: a managed (Iceberg) table gets
  one commit per run, an external table new files in its format under its
  location (and the partitions they fill), removed again if the run fails;
  the bookmark moves only with a successful run. A run whose process is
  killed is found dead and closed by the next call on its job — the table
  as it was, the bookmark unchanged — so the next run loads exactly what
  the killed one did not.
- ``GetJobBookmark`` / ``ResetJobBookmark`` show and clear the bookmark.

Rows are checked against the target table: columns matched by name,
values cast to the table's types, and a value that does not fit fails the
run naming the column, the file or source, and the row (``conform.py``).
Sources are read a batch at a time (``sources/``), targets written through
the catalog's and the lake's own operations as the caller (``targets/``),
so ingest needs no permission of its own beyond its actions. Connection
URLs are never shown, audited or reported with their password.
"""

from __future__ import annotations

from crispml.services.ingest.bookmarks import BookmarkOps
from crispml.services.ingest.jobs import JobOps
from crispml.services.ingest.runs import RunOps
from crispml.services.ingest.specs import (
    BatchStopJobRunRequest,
    CreateJobRequest,
    GetJobRunRequest,
    GetJobRunsRequest,
    JobNameRequest,
    ListJobsRequest,
    UpdateJobRequest,
)
from crispml.spine.operations import Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "BatchStopJobRunRequest", "CreateJobRequest", "GetJobRunRequest", "GetJobRunsRequest", "IngestService",
    "JobNameRequest", "ListJobsRequest", "UpdateJobRequest"
]


class IngestService(Service, JobOps, RunOps, BookmarkOps):
    name = "ingest"
