"""Ingest errors, with Glue's error codes for jobs and job runs.

::

    InvalidArgument  ── InvalidInputException              a job definition or a file/row Glue would refuse
    NotFound         ── EntityNotFoundException            no such job, job run or target table
    AlreadyExists    ── AlreadyExistsException             a job of that name exists already
    Conflict         ── ConcurrentRunsExceededException    the job has a run in progress (one at a time)
                     ── ConcurrentModificationException    the job changed (or started a run) meanwhile
    Unavailable      ── SourceUnavailableException         the source database cannot be reached or read

Messages name what did not fit (the file and row, the column, the source) and
never carry a database password: every URL in a message is redacted.
"""

# Glue's own exceptions, shared with the catalog (one class per AWS error code)
from crispml.core.errors import (
    AlreadyExistsException,
    ConcurrentModificationException,
    Conflict,
    EntityNotFoundException,
    InvalidInputException,
    Unavailable,
)

__all__ = ["AlreadyExistsException", "ConcurrentModificationException", "ConcurrentRunsExceededException",
           "EntityNotFoundException", "InvalidInputException", "SourceUnavailableException"]


class ConcurrentRunsExceededException(Conflict):
    code = "ConcurrentRunsExceededException"


class SourceUnavailableException(Unavailable):
    code = "SourceUnavailableException"
