"""Query requests and responses: Athena's operations and fields, in snake_case.

Checked here, once, with Athena's limits: workgroup names are 1-128 of
``[a-zA-Z0-9._-]``; prepared statement names 1-256 of ``[a-zA-Z0-9_@:]``,
starting with a letter or ``_``; named query names 1-128 characters;
descriptions up to 1,024 characters; at most 50 tags;
``BytesScannedCutoffPerQuery`` at least 10,000,000 bytes (10 MB, Athena's
minimum); query strings 1-262,144 bytes; ``ClientRequestToken`` 32-128
characters; ``ExecutionParameters`` 1-1,000 values of 1-1,024 characters;
output locations are lake prefixes (``s3://`` is accepted as the same lake)
normalised to ``lake://bucket/prefix/``; ``MaxResults`` 1-50 for
lists and 1-1,000 for result pages.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from crispml.core.hive import check_location
from crispml.services.query.entities import (
    NamedQuery,
    PreparedStatement,
    PreparedStatementSummary,
    QueryExecution,
    ResultSet,
    Tag,
    UnprocessedNamedQueryId,
    UnprocessedQueryExecutionId,
    WorkGroup,
    WorkGroupConfiguration,
    WorkGroupState,
    WorkGroupSummary,
)
from crispml.services.query.errors import InvalidRequestException
from crispml.spine.models import Request, Response, Shape

PRIMARY = "primary"
MIN_CUTOFF = 10_000_000
MAX_QUERY_BYTES = 262_144
#: The longest QueryTimeoutInMinutes a workgroup may set (Athena raises its DML timeout quota up to a day).
MAX_QUERY_TIMEOUT_MINUTES = 1440
_WORKGROUP = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
_QUERY_ID = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
_STATEMENT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_@:]{0,255}$")
MAX_PARAMETERS = 1000


def check_workgroup(name: str) -> str:
    if not _WORKGROUP.match(name):
        raise InvalidRequestException(
            f"workgroup name {name!r} must be 1-128 letters, digits, '.', '_' or '-'")
    return name


def check_output_location(location: str) -> str:
    """A lake prefix as ``lake://bucket/prefix/`` (``s3://`` is the same lake), as the catalog checks one."""
    return check_location(location, what="output location", example="lake://bucket/results/",
                          error=InvalidRequestException)


def _cutoff(value: int | None) -> int | None:
    if value is not None and value < MIN_CUTOFF:
        raise InvalidRequestException(
            f"BytesScannedCutoffPerQuery must be at least {MIN_CUTOFF} bytes (10 MB), not {value}")
    return value


def _timeout(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_QUERY_TIMEOUT_MINUTES:
        raise InvalidRequestException(
            f"QueryTimeoutInMinutes must be 1-{MAX_QUERY_TIMEOUT_MINUTES} minutes, not {value}")
    return value


def _tags(tags: list[Tag]) -> list[Tag]:
    if len(tags) > 50:
        raise InvalidRequestException(f"a workgroup holds at most 50 tags, not {len(tags)}")
    keys = [t.key for t in tags]
    if len(set(keys)) != len(keys):
        raise InvalidRequestException("tag keys must be unique")
    return tags


def _query_id(value: str) -> str:
    if not _QUERY_ID.match(value):
        raise InvalidRequestException(f"{value!r} is not a query execution id")
    return value


def _query_string(sql: str) -> str:
    if not sql.strip():
        raise InvalidRequestException("QueryString is empty; pass the SQL statement to run")
    if len(sql.encode("utf-8")) > MAX_QUERY_BYTES:
        raise InvalidRequestException(f"QueryString is longer than Athena's limit of {MAX_QUERY_BYTES} bytes")
    return sql


def check_statement_name(name: str) -> str:
    if not _STATEMENT_NAME.match(name):
        raise InvalidRequestException(
            f"prepared statement name {name!r} must be 1-256 letters, digits, '_', '@' or ':', starting with a "
            "letter or '_'")
    return name


def _parameters(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    if not 1 <= len(values) <= MAX_PARAMETERS:
        raise InvalidRequestException(
            f"ExecutionParameters holds 1-{MAX_PARAMETERS} values, not {len(values)}; leave it out for a query "
            "without '?' parameters")
    for position, value in enumerate(values, 1):
        if not 1 <= len(value) <= 1024:
            raise InvalidRequestException(
                f"ExecutionParameters value {position} must be 1-1024 characters (a SQL literal such as 'text', "
                "42 or DATE '2024-01-01')")
    return values


WorkGroupName = Annotated[str, AfterValidator(check_workgroup), Field(description="Workgroup name.")]
OutputLocation = Annotated[str, AfterValidator(check_output_location),
                           Field(description="Where results go: 'lake://bucket/prefix/'.")]
Cutoff = Annotated[int | None, AfterValidator(_cutoff),
                   Field(description="Fail queries that would scan more bytes than this (at least 10000000).")]
QueryTimeout = Annotated[int | None, AfterValidator(_timeout),
                         Field(description="Stop queries that run longer than this many minutes (FAILED); "
                                           "default 30, as Athena's DML query timeout.")]
QueryExecutionId = Annotated[str, AfterValidator(_query_id), Field(description="The query execution id.")]
NextToken = Annotated[str | None, Field(None, description="Token from the previous page.")]


class EmptyResponse(Response):
    """A query operation that returns nothing but success."""


# -- workgroups ---------------------------------------------------------------------------


class ResultConfigurationInput(Shape):
    output_location: OutputLocation | None = None


class WorkGroupConfigurationInput(Shape):
    result_configuration: ResultConfigurationInput = Field(default_factory=ResultConfigurationInput)
    enforce_work_group_configuration: bool = True
    publish_cloud_watch_metrics_enabled: bool = Field(
        False, description="Kept as Athena does; crispml has no CloudWatch metric store yet, so nothing is "
                           "published (each query's time and bytes are in GetQueryExecution's Statistics).")
    bytes_scanned_cutoff_per_query: Cutoff = None
    query_timeout_in_minutes: QueryTimeout = None

    def stored(self) -> WorkGroupConfiguration:
        return WorkGroupConfiguration.model_validate(self.model_dump())


class CreateWorkGroupRequest(Request):
    name: WorkGroupName
    configuration: WorkGroupConfigurationInput = Field(
        default_factory=WorkGroupConfigurationInput,
        description='{"ResultConfiguration": {"OutputLocation": "lake://bucket/results/"}, '
                    '"BytesScannedCutoffPerQuery": 10000000}.')
    description: str | None = Field(None, max_length=1024)
    tags: Annotated[list[Tag], AfterValidator(_tags)] = Field(
        default_factory=list, description='[{"Key": "team", "Value": "ml"}].')


class WorkGroupRequest(Request):
    work_group: WorkGroupName


class GetWorkGroupResponse(Response):
    work_group: WorkGroup


class ListWorkGroupsRequest(Request):
    max_results: int = Field(50, ge=1, le=50, description="Workgroups per page (1-50).")
    next_token: NextToken = None


class ListWorkGroupsResponse(Response):
    work_groups: list[WorkGroupSummary]
    next_token: str | None = None


class ResultConfigurationUpdates(Shape):
    output_location: OutputLocation | None = None
    remove_output_location: bool = False


class WorkGroupConfigurationUpdates(Shape):
    """Fields left out keep their value."""

    enforce_work_group_configuration: bool | None = None
    result_configuration_updates: ResultConfigurationUpdates | None = None
    publish_cloud_watch_metrics_enabled: bool | None = None
    bytes_scanned_cutoff_per_query: Cutoff = None
    remove_bytes_scanned_cutoff_per_query: bool = False
    query_timeout_in_minutes: QueryTimeout = None

    @model_validator(mode="after")
    def _check(self) -> WorkGroupConfigurationUpdates:
        if self.bytes_scanned_cutoff_per_query is not None and self.remove_bytes_scanned_cutoff_per_query:
            raise InvalidRequestException(
                "give BytesScannedCutoffPerQuery or RemoveBytesScannedCutoffPerQuery, not both")
        results = self.result_configuration_updates
        if results is not None and results.output_location and results.remove_output_location:
            raise InvalidRequestException("give OutputLocation or RemoveOutputLocation, not both")
        return self


class UpdateWorkGroupRequest(Request):
    """Fields left out keep their value."""

    work_group: WorkGroupName
    description: str | None = Field(None, max_length=1024)
    configuration_updates: WorkGroupConfigurationUpdates | None = Field(
        None, description='{"BytesScannedCutoffPerQuery": 20000000, "PublishCloudWatchMetricsEnabled": true}.')
    state: WorkGroupState | None = None


class DeleteWorkGroupRequest(Request):
    work_group: WorkGroupName
    recursive_delete_option: bool = Field(
        False, description="Also delete the workgroup's query history (its result files stay in the lake).")


# -- query executions ------------------------------------------------------------------


class QueryExecutionContextInput(Shape):
    database: str | None = Field(None, min_length=1, max_length=255)
    catalog: str | None = Field(None, min_length=1, max_length=256)


class StartQueryExecutionRequest(Request):
    query_string: Annotated[str, AfterValidator(_query_string)] = Field(
        description="The SQL statement (Athena/Trino dialect).")
    query_execution_context: QueryExecutionContextInput | None = Field(
        None, description='{"Database": "sales"}: where unqualified table names are looked up.')
    work_group: WorkGroupName = Field(PRIMARY, description="The workgroup (default primary).")
    result_configuration: ResultConfigurationInput | None = Field(
        None, description='{"OutputLocation": "lake://bucket/results/"} (ignored if the workgroup enforces its own).')
    client_request_token: str | None = Field(
        None, min_length=32, max_length=128,
        description="Makes the call idempotent: the same token starts the query once.")
    execution_parameters: Annotated[list[str] | None, AfterValidator(_parameters)] = Field(
        None, description="Values of the query's '?' parameters, in order, each a SQL literal: "
                          '["\'books\'", "2024", "DATE \'2024-01-01\'"].')


class StartQueryExecutionResponse(Response):
    query_execution_id: str


class QueryExecutionRequest(Request):
    query_execution_id: QueryExecutionId


class GetQueryExecutionResponse(Response):
    query_execution: QueryExecution


class BatchGetQueryExecutionRequest(Request):
    query_execution_ids: list[QueryExecutionId] = Field(min_length=1, max_length=50,
                                                        description="1-50 query execution ids.")


class BatchGetQueryExecutionResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"query_executions": ["query_execution_id", "status"]}
    query_executions: list[QueryExecution]
    unprocessed_query_execution_ids: list[UnprocessedQueryExecutionId] = Field(default_factory=list)


class ListQueryExecutionsRequest(Request):
    work_group: WorkGroupName = Field(PRIMARY, description="The workgroup (default primary).")
    max_results: int = Field(50, ge=1, le=50, description="Ids per page (1-50).")
    next_token: NextToken = None


class ListQueryExecutionsResponse(Response):
    query_execution_ids: list[str]
    next_token: str | None = None


class GetQueryResultsRequest(Request):
    query_execution_id: QueryExecutionId
    max_results: int = Field(1000, ge=1, le=1000, description="Rows per page (1-1000; the header counts).")
    next_token: NextToken = None


class GetQueryResultsResponse(Response):
    update_count: int = 0
    result_set: ResultSet
    next_token: str | None = None


# -- prepared statements -------------------------------------------------------------------

StatementName = Annotated[str, AfterValidator(check_statement_name),
                          Field(description="The prepared statement's name.")]
StatementText = Annotated[str, AfterValidator(_query_string),
                          Field(description="The SQL statement; '?' marks a parameter.")]


class CreatePreparedStatementRequest(Request):
    statement_name: StatementName
    work_group: WorkGroupName
    query_statement: StatementText
    description: str | None = Field(None, min_length=1, max_length=1024)


class PreparedStatementRequest(Request):
    statement_name: StatementName
    work_group: WorkGroupName


class GetPreparedStatementResponse(Response):
    prepared_statement: PreparedStatement


class UpdatePreparedStatementRequest(Request):
    statement_name: StatementName
    work_group: WorkGroupName
    query_statement: StatementText
    description: str | None = Field(None, min_length=1, max_length=1024)


class ListPreparedStatementsRequest(Request):
    work_group: WorkGroupName
    max_results: int = Field(50, ge=1, le=50, description="Statements per page (1-50).")
    next_token: NextToken = None


class ListPreparedStatementsResponse(Response):
    prepared_statements: list[PreparedStatementSummary]
    next_token: str | None = None


# -- named queries ---------------------------------------------------------------------------

NamedQueryId = Annotated[str, AfterValidator(_query_id), Field(description="The named query id.")]


class CreateNamedQueryRequest(Request):
    name: str = Field(min_length=1, max_length=128, description="The query's name.")
    database: str = Field(min_length=1, max_length=255, description="The database the query runs in.")
    query_string: Annotated[str, AfterValidator(_query_string)] = Field(description="The SQL statement.")
    description: str | None = Field(None, max_length=1024)
    work_group: WorkGroupName = Field(PRIMARY, description="The workgroup (default primary).")
    client_request_token: str | None = Field(
        None, min_length=32, max_length=128,
        description="Makes the call idempotent: the same token creates the named query once.")


class CreateNamedQueryResponse(Response):
    named_query_id: str


class NamedQueryRequest(Request):
    named_query_id: NamedQueryId


class GetNamedQueryResponse(Response):
    named_query: NamedQuery


class BatchGetNamedQueryRequest(Request):
    named_query_ids: list[NamedQueryId] = Field(min_length=1, max_length=50, description="1-50 named query ids.")


class BatchGetNamedQueryResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"named_queries": ["named_query_id", "name", "database"]}
    named_queries: list[NamedQuery]
    unprocessed_named_query_ids: list[UnprocessedNamedQueryId] = Field(default_factory=list)


class ListNamedQueriesRequest(Request):
    work_group: WorkGroupName = Field(PRIMARY, description="The workgroup (default primary).")
    max_results: int = Field(50, ge=1, le=50, description="Ids per page (1-50).")
    next_token: NextToken = None


class ListNamedQueriesResponse(Response):
    named_query_ids: list[str]
    next_token: str | None = None


class UpdateNamedQueryRequest(Request):
    named_query_id: NamedQueryId
    name: str = Field(min_length=1, max_length=128, description="The query's name.")
    query_string: Annotated[str, AfterValidator(_query_string)] = Field(description="The SQL statement.")
    description: str | None = Field(None, max_length=1024)
