"""Run a SQL statement and wait for it: the loop every Athena client writes, written once.

``run_query(client, "SELECT …", database="demo")`` calls ``StartQueryExecution``,
waits until the execution ends, raises the matching crispml error if it failed
(``LimitExceeded``, ``NotFound``, ``InvalidArgument`` …) and returns a
:class:`QueryRun` whose rows come from ``GetQueryResults`` page by page — so a
result larger than memory streams. The CLI's ``crispml sql``, the demo and the
benchmarks use it; every step is an ordinary operation through the spine.

Waiting polls ``GetQueryExecution``, as every Athena client does, backing off
from 20 ms to one second; an embedded client is also told when a query of its
process ends (the platform's change notices), so it reads the end state at once
instead of at the next poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from crispml.services.query.service import QueryCancelledError, error_for, execution_crn

_FIRST_POLL, _MAX_POLL = 0.02, 1.0
INTEGERS = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
FLOATS = frozenset({"double", "real", "float"})


def typed(value: str | None, kind: str) -> Any:
    """A result value (text in Athena's results) as Python: integers, floats and booleans as themselves."""
    if value is None:
        return None
    kind = kind.split("(", 1)[0].lower()
    try:
        if kind in INTEGERS:
            return int(value)
        if kind in FLOATS and value not in ("NaN", "Infinity", "-Infinity"):
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def wait(client: Any, query_execution_id: str, *, tick: Callable[[], None] | None = None,
         fresh: bool = False) -> Any:
    """Wait until the execution ends; its final ``QueryExecution``. ``tick`` runs between polls.

    ``fresh`` says the execution was just started by this client: an embedded client then waits for
    its end notice before the first read (up to a second when there is no ``tick`` to run), so a query
    of this process is read once, when it has ended, not also while it runs.
    """
    changes = getattr(getattr(client, "platform", None), "changes", None)
    key = execution_crn(query_execution_id)
    delay = _FIRST_POLL
    if fresh and changes is not None:
        # 0: nothing was posted for a new execution before it ended
        changes.wait(key, 0, delay if tick is not None else _MAX_POLL)
    while True:
        seen = changes.version(key) if changes is not None else 0
        execution = client.query.get_query_execution(query_execution_id=query_execution_id).query_execution
        if execution.status.state not in ("QUEUED", "RUNNING"):
            return execution
        if tick is not None:
            tick()
        if changes is not None:
            changes.wait(key, seen, delay)
        else:
            time.sleep(delay)
        delay = min(delay * 2, _MAX_POLL)


def raise_for(execution: Any) -> None:
    """Raise the crispml error of a FAILED or CANCELLED execution; nothing for SUCCEEDED."""
    status = execution.status
    if status.state == "FAILED":
        error = status.athena_error
        raise error_for(error.error_type if error else None,
                        error.error_message if error else status.state_change_reason or "the query failed")
    if status.state == "CANCELLED":
        raise QueryCancelledError(
            f"query {execution.query_execution_id} was cancelled ({status.state_change_reason or 'stopped'})")


@dataclass
class Page:
    """One page of results: data rows as text (None for NULL), the header already removed."""

    rows: list[list[str | None]]
    columns: list[Any]  # ColumnInfo of every column
    update_count: int


def pages(client: Any, query_execution_id: str, *, page_size: int = 1000) -> Iterator[Page]:
    """Every page of a finished query's results, read from its CSV in the lake a page at a time."""
    token: str | None = None
    first = True
    while True:
        fields: dict[str, Any] = {"query_execution_id": query_execution_id, "max_results": page_size}
        if token:
            fields["next_token"] = token
        page = client.query.get_query_results(**fields)
        columns = page.result_set.result_set_metadata.column_info
        rows = [[d.var_char_value for d in r.data] for r in page.result_set.rows]
        if first and columns:
            rows = rows[1:]  # the first row of the first page is the header, as in Athena
        first = False
        yield Page(rows, columns, page.update_count or 0)
        token = page.next_token
        if not token:
            return


@dataclass
class QueryRun:
    """A finished, successful query: its execution, and its results on demand."""

    client: Any
    execution: Any

    @property
    def query_execution_id(self) -> str:
        return str(self.execution.query_execution_id)

    @property
    def statistics(self) -> Any:
        return self.execution.statistics

    def pages(self, page_size: int = 1000) -> Iterator[Page]:
        return pages(self.client, self.query_execution_id, page_size=page_size)

    def records(self) -> list[dict[str, Any]]:
        """All rows as dicts with typed values (read every page: for results that fit in memory)."""
        out: list[dict[str, Any]] = []
        for page in self.pages():
            names = [c.name for c in page.columns]
            kinds = [c.type for c in page.columns]
            out += [{n: typed(v, k) for n, v, k in zip(names, row, kinds, strict=False)} for row in page.rows]
        return out

    @property
    def update_count(self) -> int:
        """Rows a CTAS, INSERT or DELETE wrote (GetQueryResults' ``UpdateCount``); 0 for a SELECT."""
        return next(self.pages(page_size=1)).update_count


def run_query(client: Any, sql: str, *, database: str | None = None, workgroup: str = "primary",
              tick: Callable[[], None] | None = None, parameters: list[str] | None = None) -> QueryRun:
    """Start ``sql``, wait for it, raise its error if it failed; the finished :class:`QueryRun`.

    ``parameters`` are the values of its ``?`` placeholders, each a SQL literal (``ExecutionParameters``)."""
    request: dict[str, Any] = {"query_string": sql, "work_group": workgroup}
    if parameters:
        request["execution_parameters"] = parameters
    if database:
        request["query_execution_context"] = {"Database": database}
    query_id = client.query.start_query_execution(**request).query_execution_id
    try:
        execution = wait(client, query_id, tick=tick, fresh=True)
    except KeyboardInterrupt:
        client.query.stop_query_execution(query_execution_id=query_id)
        raise
    raise_for(execution)
    return QueryRun(client, execution)
