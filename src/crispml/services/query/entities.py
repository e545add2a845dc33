"""Query value objects: Athena's shapes in snake_case (AWS PascalCase accepted as input).

``ResultConfiguration``, ``WorkGroupConfiguration`` and ``QueryExecutionContext``
appear in requests and in what operations return, so they are defined once
here as shapes; the checks a request must pass live in ``specs.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crispml.spine.models import Shape

QueryState = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
WorkGroupState = Literal["ENABLED", "DISABLED"]
#: States a query can still leave.
ACTIVE_STATES = ("QUEUED", "RUNNING")
DEFAULT_CATALOG = "AwsDataCatalog"
#: Athena's DML query timeout: a query that runs longer ends FAILED (a workgroup's QueryTimeoutInMinutes).
DEFAULT_QUERY_TIMEOUT_MINUTES = 30


class ResultConfiguration(Shape):
    output_location: str | None = Field(None, description="Where results go: 'lake://bucket/prefix/'.")


class WorkGroupConfiguration(Shape):
    result_configuration: ResultConfiguration = Field(default_factory=ResultConfiguration)
    enforce_work_group_configuration: bool = True
    publish_cloud_watch_metrics_enabled: bool = False
    bytes_scanned_cutoff_per_query: int | None = None
    query_timeout_in_minutes: int | None = Field(
        None, description=f"Queries running longer end FAILED (None: {DEFAULT_QUERY_TIMEOUT_MINUTES} minutes).")

    def query_timeout(self) -> int:
        """The minutes a query of this workgroup may run."""
        return self.query_timeout_in_minutes or DEFAULT_QUERY_TIMEOUT_MINUTES


class Tag(Shape):
    key: str = Field(min_length=1, max_length=128)
    value: str = Field("", max_length=256)


class WorkGroup(BaseModel):
    name: str
    state: WorkGroupState
    configuration: WorkGroupConfiguration
    description: str | None = None
    creation_time: datetime


class WorkGroupSummary(BaseModel):
    name: str
    state: WorkGroupState
    description: str | None = None
    creation_time: datetime


class QueryExecutionContext(Shape):
    database: str | None = None
    catalog: str | None = None


class AthenaError(BaseModel):
    error_category: int  # 1 SYSTEM, 2 USER, 3 OTHER
    error_type: str  # the crispml error class: LimitExceeded, InvalidArgument, NotFound, Internal …
    retryable: bool
    error_message: str


class QueryExecutionStatus(BaseModel):
    state: QueryState
    state_change_reason: str | None = None
    submission_date_time: datetime
    completion_date_time: datetime | None = None
    athena_error: AthenaError | None = None


class QueryExecutionStatistics(BaseModel):
    engine_execution_time_in_millis: int = 0
    data_scanned_in_bytes: int = 0
    total_execution_time_in_millis: int = 0
    query_queue_time_in_millis: int = 0
    service_pre_processing_time_in_millis: int = 0
    query_planning_time_in_millis: int = 0
    service_processing_time_in_millis: int = 0


class QueryExecution(BaseModel):
    query_execution_id: str
    query: str
    statement_type: str
    substatement_type: str | None = None
    result_configuration: ResultConfiguration
    query_execution_context: QueryExecutionContext
    status: QueryExecutionStatus
    statistics: QueryExecutionStatistics
    work_group: str
    execution_parameters: list[str] | None = None


class UnprocessedQueryExecutionId(BaseModel):
    query_execution_id: str
    error_code: str
    error_message: str


class ColumnInfo(BaseModel):
    """One result column, as Athena's ``ResultSetMetadata.ColumnInfo`` describes it."""

    catalog_name: str = "hive"
    schema_name: str = ""
    table_name: str = ""
    name: str
    label: str
    type: str
    precision: int = 0
    scale: int = 0
    nullable: str = "UNKNOWN"
    case_sensitive: bool = False


class Datum(BaseModel):
    """One value; ``var_char_value`` is None for SQL NULL (Athena leaves the key out)."""

    var_char_value: str | None = None


class Row(BaseModel):
    data: list[Datum]


class ResultSetMetadata(BaseModel):
    column_info: list[ColumnInfo]


class ResultSet(BaseModel):
    rows: list[Row]
    result_set_metadata: ResultSetMetadata


class PreparedStatement(BaseModel):
    """A prepared statement of a workgroup (``PREPARE`` or ``CreatePreparedStatement``)."""

    statement_name: str
    query_statement: str
    work_group_name: str
    description: str | None = None
    last_modified_time: datetime


class PreparedStatementSummary(BaseModel):
    statement_name: str
    last_modified_time: datetime


class NamedQuery(BaseModel):
    """A saved query of a workgroup (``CreateNamedQuery``)."""

    name: str
    description: str | None = None
    database: str
    query_string: str
    named_query_id: str
    work_group: str


class UnprocessedNamedQueryId(BaseModel):
    named_query_id: str
    error_code: str
    error_message: str
