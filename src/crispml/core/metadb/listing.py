"""The filters SageMaker's List… operations share, on a job table's rows.

``ListTrainingJobs``, ``ListTransformJobs`` and ``ListHyperParameterTuningJobs``
take the same ``NameContains`` and ``CreationTime``/``LastModifiedTime``
``After``/``Before`` fields; the tables keep them as ``name``, ``created_at``
and ``modified_at``. The status filter is left to each operation: some apply it
only after settling jobs whose process died.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select

S = TypeVar("S", bound="Select[Any]")


class JobListRequest(Protocol):
    @property
    def name_contains(self) -> str | None: ...
    @property
    def creation_time_after(self) -> datetime | None: ...
    @property
    def creation_time_before(self) -> datetime | None: ...
    @property
    def last_modified_time_after(self) -> datetime | None: ...
    @property
    def last_modified_time_before(self) -> datetime | None: ...


def job_filters(query: S, row: Any, request: JobListRequest) -> S:
    """``query`` narrowed by the request's name and time filters on ``row``'s table."""
    if request.name_contains:
        query = query.where(row.name.contains(request.name_contains, autoescape=True))
    for column, after, before in ((row.created_at, request.creation_time_after, request.creation_time_before),
                                  (row.modified_at, request.last_modified_time_after,
                                   request.last_modified_time_before)):
        if after:
            query = query.where(column > after)
        if before:
            query = query.where(column < before)
    return query
