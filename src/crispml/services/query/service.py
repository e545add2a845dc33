"""The query service (Athena): SQL over the catalog's tables, run in the background, results in the lake.

One class combining the operation groups: workgroups (``workgroups.py``),
prepared statements and named queries (``statements.py``, with ``PREPARE``,
``EXECUTE`` and ``?`` parameters in ``parameters.py``), query executions
(``executions.py``, run by ``runner.py``) and their results (``results.py``,
in Athena's CSV: ``results_csv.py``). The service owns
executions, their states, workgroups, the bytes-scanned cutoff and the results
files; the SQL itself — parsing, resolving catalog tables, reading lake files,
CTAS and INSERT — belongs to the engine (``engines/``, DuckDB), behind the
contract in ``engines/base.py``. Queries run on worker threads of the process
that started them; their state lives in the metadata DB, so any process can
read or stop them.
"""

from __future__ import annotations

import threading

from crispml.services.query.engines.base import QueryEngine
from crispml.services.query.errors import (
    QueryCancelledError,
    error_for,
)
from crispml.services.query.executions import execution_crn
from crispml.services.query.results import ResultOps
from crispml.services.query.runner import Run
from crispml.services.query.specs import (
    BatchGetNamedQueryRequest,
    BatchGetQueryExecutionRequest,
    CreateNamedQueryRequest,
    CreatePreparedStatementRequest,
    CreateWorkGroupRequest,
    DeleteWorkGroupRequest,
    GetQueryResultsRequest,
    ListNamedQueriesRequest,
    ListPreparedStatementsRequest,
    ListQueryExecutionsRequest,
    ListWorkGroupsRequest,
    NamedQueryRequest,
    PreparedStatementRequest,
    QueryExecutionRequest,
    StartQueryExecutionRequest,
    UpdateNamedQueryRequest,
    UpdatePreparedStatementRequest,
    UpdateWorkGroupRequest,
    WorkGroupRequest,
)
from crispml.spine.operations import Runtime, Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "BatchGetNamedQueryRequest",
    "BatchGetQueryExecutionRequest",
    "CreateNamedQueryRequest",
    "CreatePreparedStatementRequest",
    "CreateWorkGroupRequest",
    "DeleteWorkGroupRequest",
    "GetQueryResultsRequest",
    "ListNamedQueriesRequest",
    "ListPreparedStatementsRequest",
    "ListQueryExecutionsRequest",
    "ListWorkGroupsRequest",
    "NamedQueryRequest",
    "PreparedStatementRequest",
    "QueryCancelledError",
    "QueryExecutionRequest",
    "QueryService",
    "StartQueryExecutionRequest",
    "UpdateNamedQueryRequest",
    "UpdatePreparedStatementRequest",
    "UpdateWorkGroupRequest",
    "WorkGroupRequest",
    "error_for",
    "execution_crn"
]


class QueryService(Service, ResultOps):
    name = "query"

    def join(self, query_execution_id: str, timeout: float | None = None) -> bool:
        """Wait for this process's worker of a query to end; True if it has (or none runs here).

        Not an operation (it reads no state, and a query's state is GetQueryExecution's): for code that
        must know no thread of a query is left in this process, such as tests.
        """
        return self._join(query_execution_id, timeout)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._engine_instance: QueryEngine | None = None
        self._runs: dict[str, Run] = {}
        self._runs_lock = threading.Lock()
        self._buckets_seen: dict[tuple[str, str], float] = {}
