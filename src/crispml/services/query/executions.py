"""Query execution operations (Athena): start, get, batch get, list, stop.

``StartQueryExecution`` validates at the boundary, as Athena does: the
workgroup must exist and be ``ENABLED``, there must be an output location, and
``engine.prepare`` parses the statement and resolves its tables (a syntax
error raises ``InvalidArgument``, an unknown table ``NotFound``, and nothing
is recorded). Only then is the execution recorded ``QUEUED`` and handed to a
worker thread (``runner.py``); the call returns its id at once.

Where results go, as in Athena: the workgroup's output location when it
enforces its configuration, else the request's, else the workgroup's; the
file is ``<location><QueryExecutionId>.csv``. The primary workgroup's default
location ``lake://crispml-query-results/`` has its bucket created through the
lake, as the caller, the first time it is needed; any other location's bucket
must exist.

``ClientRequestToken`` makes a start idempotent: the same token with the same
parameters returns the first execution's id (and starts nothing); with other
parameters it is refused. Reading executions closes those whose process died
while they were queued or running (``FAILED``), so nothing stays ``RUNNING``
for ever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import AlreadyExists, NotFound
from crispml.core.names import crn
from crispml.core.owners import process_owner
from crispml.services.catalog.service import CatalogService
from crispml.services.lake.service import BucketRequest, CreateBucketRequest, LakeService
from crispml.services.query.engines.base import Caller, QueryEngine, QueryFailed
from crispml.services.query.entities import (
    ACTIVE_STATES,
    DEFAULT_CATALOG,
    AthenaError,
    QueryExecution,
    QueryExecutionContext,
    QueryExecutionStatistics,
    QueryExecutionStatus,
    ResultConfiguration,
    UnprocessedQueryExecutionId,
    WorkGroupConfiguration,
)
from crispml.services.query.errors import (
    InvalidRequestException,
    error_category,
    error_class,
    error_for,
)
from crispml.services.query.hot import HotStatements
from crispml.services.query.runner import Run, Timings, owner_alive
from crispml.services.query.specs import (
    PRIMARY,
    BatchGetQueryExecutionRequest,
    BatchGetQueryExecutionResponse,
    EmptyResponse,
    GetQueryExecutionResponse,
    ListQueryExecutionsRequest,
    ListQueryExecutionsResponse,
    QueryExecutionRequest,
    StartQueryExecutionRequest,
    StartQueryExecutionResponse,
)
from crispml.services.query.statements import StatementOps
from crispml.services.query.store import QueryExecutionRow
from crispml.services.query.workgroups import DEFAULT_OUTPUT, workgroup_crn
from crispml.spine.operations import operation

_TABLE = cast(Table, QueryExecutionRow.__table__)
#: How often a start with a ClientRequestToken records again after a concurrent start with that token won.
_RECORD_RETRIES = 8
#: How long a start trusts that an output bucket it found still exists.
BUCKET_SEEN_SECONDS = 60.0


def execution_crn(query_execution_id: str) -> str:
    return crn("query", f"query-execution/{query_execution_id}")


def _digest(request: StartQueryExecutionRequest) -> str:
    """What a ClientRequestToken promises stays the same: every parameter but the token."""
    fields = request.model_dump(mode="json", exclude={"client_request_token"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _output_location(config: WorkGroupConfiguration, request: StartQueryExecutionRequest) -> str:
    given = request.result_configuration.output_location if request.result_configuration else None
    own = config.result_configuration.output_location
    location = own if config.enforce_work_group_configuration else (given or own)
    if location is None:
        raise InvalidRequestException(
            f"no output location: workgroup {request.work_group!r} has none and the request gave none; pass "
            "ResultConfiguration={'OutputLocation': 'lake://bucket/prefix/'} or set the workgroup's output location "
            "with UpdateWorkGroup (ConfigurationUpdates.ResultConfigurationUpdates.OutputLocation)")
    return location


class ExecutionOps(StatementOps):
    """Query executions: their life cycle and their records."""

    _engine_instance: QueryEngine | None
    _runs: dict[str, Run]
    _runs_lock: threading.Lock
    _buckets_seen: dict[tuple[str, str], float]  # (principal, output bucket) → when HeadBucket found it

    @operation("StartQueryExecution", resource=lambda r: workgroup_crn(r.work_group))
    def start_query_execution(self, ctx: CallContext,
                              request: StartQueryExecutionRequest) -> StartQueryExecutionResponse:
        """Check a SQL statement and start running it; returns its id at once (poll GetQueryExecution)."""
        submitted = time.perf_counter()
        context = request.query_execution_context
        database = context.database.lower() if context and context.database else None
        catalog = context.catalog if context and context.catalog else DEFAULT_CATALOG
        if catalog != DEFAULT_CATALOG:
            raise InvalidRequestException(f"catalog {catalog!r} does not exist; the one catalog is {DEFAULT_CATALOG!r}")
        digest = _digest(request)
        token = request.client_request_token
        if token is not None:
            with self._reading() as session:
                earlier = self._by_token(session, token, digest)
            if earlier is not None:
                return StartQueryExecutionResponse(query_execution_id=earlier)
        state, config = self._workgroup_settings(request.work_group)
        if state != "ENABLED":
            raise InvalidRequestException(
                f"workgroup {request.work_group!r} is disabled; enable it with 'crispml query update-work-group "
                f"--work-group {request.work_group} --state ENABLED' or use another workgroup")
        output = _output_location(config, request)
        caller = Caller(ctx, self.peer(CatalogService), self.peer(LakeService))
        self._check_output_bucket(caller, output)

        query_id = str(uuid.uuid4())
        began = time.perf_counter()
        sql, prepared = self._statement_to_run(ctx, request)  # statements.py: parameters, PREPARE, EXECUTE …
        try:
            if prepared is None:
                prepared = self._engine().prepare(caller, sql, database, output_location=output,
                                                  query_execution_id=query_id)
        except QueryFailed as exc:
            raise error_for(exc.error_type, exc.message) from exc
        timings = Timings(submitted=submitted, preprocessing_ms=int((time.perf_counter() - began) * 1000))

        now = self.clock.now()
        values = {
            "query_execution_id": query_id, "workgroup": request.work_group, "query": request.query_string,
            "statement_type": prepared.statement_type, "substatement_type": prepared.substatement_type,
            "database": prepared.database or database, "catalog": catalog,
            "output_location": f"{output}{query_id}.csv", "principal": ctx.principal, "state": "QUEUED",
            "submitted_at": now, "data_scanned_bytes": 0,
            "statistics": json.dumps({"service_pre_processing_time_in_millis": timings.preprocessing_ms}),
            "client_request_token": token, "request_digest": digest, "owner": process_owner(), "heartbeat_at": now,
            "execution_parameters": json.dumps(request.execution_parameters) if request.execution_parameters
            else None}
        earlier = self._record(values, token, digest)
        if earlier is not None:  # a concurrent start with the same token won
            return StartQueryExecutionResponse(query_execution_id=earlier)
        timings.queued = time.perf_counter()
        run = Run(self, self._hot(), caller, query_execution_id=query_id, workgroup=request.work_group,
                  prepared=prepared, result_path=f"{output}{query_id}.csv",
                  cutoff=config.bytes_scanned_cutoff_per_query, timings=timings, on_end=self._ended,
                  timeout=timedelta(minutes=config.query_timeout()))
        with self._lock():
            self._runs[query_id] = run
        run.start()
        return StartQueryExecutionResponse(query_execution_id=query_id)

    @operation("GetQueryExecution", resource=lambda r: execution_crn(r.query_execution_id), mutating=False)
    def get_query_execution(self, ctx: CallContext, request: QueryExecutionRequest) -> GetQueryExecutionResponse:
        """Show a query execution: its state, statistics, error and where its results are."""
        return GetQueryExecutionResponse(query_execution=execution_entity(self._current(request.query_execution_id)))

    @operation("BatchGetQueryExecution", resource=lambda r: execution_crn("*"), mutating=False)
    def batch_get_query_execution(self, ctx: CallContext,
                                  request: BatchGetQueryExecutionRequest) -> BatchGetQueryExecutionResponse:
        """Show up to 50 query executions at once; ids that do not exist are listed as unprocessed."""
        ids = list(dict.fromkeys(request.query_execution_ids))
        self._settle(ids=ids)
        with self._reading() as session:
            rows = {r.query_execution_id: r for r in session.scalars(
                select(QueryExecutionRow).where(QueryExecutionRow.query_execution_id.in_(ids)))}
        return BatchGetQueryExecutionResponse(
            query_executions=[execution_entity(rows[i]) for i in ids if i in rows],
            unprocessed_query_execution_ids=[
                UnprocessedQueryExecutionId(query_execution_id=i, error_code=InvalidRequestException.code,
                                            error_message=f"query execution {i!r} does not exist")
                for i in ids if i not in rows])

    @operation("ListQueryExecutions", resource=lambda r: workgroup_crn(r.work_group), mutating=False)
    def list_query_executions(self, ctx: CallContext,
                              request: ListQueryExecutionsRequest) -> ListQueryExecutionsResponse:
        """List a workgroup's query execution ids, newest first, a page at a time."""
        self._ensure_primary()
        after = _position(request.next_token)
        with self._reading() as session:
            self._workgroup(session, request.work_group)
        self._settle(workgroup=request.work_group)
        query = (select(QueryExecutionRow.seq, QueryExecutionRow.query_execution_id)
                 .where(QueryExecutionRow.workgroup == request.work_group)
                 .order_by(QueryExecutionRow.seq.desc()).limit(request.max_results + 1))
        if after is not None:
            query = query.where(QueryExecutionRow.seq < after)
        with self._reading() as session:
            rows = list(session.execute(query))
        page = rows[:request.max_results]
        return ListQueryExecutionsResponse(
            query_execution_ids=[r.query_execution_id for r in page],
            next_token=paging.encode_token(page[-1].seq) if len(rows) > len(page) else None)

    @operation("StopQueryExecution", resource=lambda r: execution_crn(r.query_execution_id))
    def stop_query_execution(self, ctx: CallContext, request: QueryExecutionRequest) -> EmptyResponse:
        """Stop a queued or running query (CANCELLED); stopping a finished one changes nothing."""
        self._settle(ids=[request.query_execution_id])

        def work(session: Session) -> bool:
            row = self._execution(session, request.query_execution_id, lock=True)
            if row.state not in ACTIVE_STATES:
                return False
            row.state, row.completed_at = "CANCELLED", self.clock.now()
            row.state_change_reason = "Query was cancelled by StopQueryExecution"
            return True

        if self._writing(work):
            with self._lock():
                run = self._runs.get(request.query_execution_id)
            if run is not None:  # running here: stop it now (a run elsewhere notices through the DB)
                run.stop()
        return EmptyResponse()

    def _join(self, query_execution_id: str, timeout: float | None) -> bool:
        with self._lock():
            run = self._runs.get(query_execution_id)
        return run is None or run.join(timeout)

    # -- shared machinery -----------------------------------------------------------------------

    def _engine(self) -> QueryEngine:
        with self._lock():
            if self._engine_instance is None:
                from crispml.services.query.engines.duckdb import DuckDBEngine

                self._engine_instance = DuckDBEngine()
            return self._engine_instance

    def _lock(self) -> threading.Lock:
        return self._runs_lock

    def _ended(self, run: Run) -> None:
        with self._lock():
            self._runs.pop(run.query_execution_id, None)
        self.runtime.changes.post(execution_crn(run.query_execution_id))  # its end state is committed

    def _workgroup_settings(self, name: str) -> tuple[str, WorkGroupConfiguration]:
        """A workgroup's state and configuration (the primary one made on first use)."""
        try:
            return self._read_settings(name)
        except InvalidRequestException:  # no such workgroup
            if name != PRIMARY:
                raise
        self._ensure_primary()
        return self._read_settings(name)

    def _read_settings(self, name: str) -> tuple[str, WorkGroupConfiguration]:
        for _ in range(_RECORD_RETRIES):
            found = self._hot().workgroup(name)
            if found is not None:
                return found
            with self._reading() as session:
                # raises, naming workgroups with a close name; if it finds one, it was made since the read
                # above (concurrent first starts make the primary workgroup): read it again
                self._workgroup(session, name)
        raise InvalidRequestException(f"workgroup {name!r} is being created and deleted as it is read; "
                                      "start the query again")

    def _hot(self) -> HotStatements:
        """The plain-SQL statements every query runs, for this platform's metadata DB."""
        return self.db.statements(HotStatements)

    def _record(self, values: dict[str, Any], token: str | None, digest: str) -> str | None:
        """Record a new execution (its start's audit event riding along); None, or the id of the execution
        an earlier start with the same ClientRequestToken recorded (a concurrent one may have won)."""
        hot = self._hot()
        for attempt in range(_RECORD_RETRIES):
            try:
                with self.db.cursor(write=True) as cursor:
                    if token is not None:
                        earlier = self._token_owner(cursor, token, digest)
                        if earlier is not None:
                            return earlier
                    hot.record(values, cursor)
                    return None
            except IntegrityError:  # the token's unique key: a concurrent start is recording it (or did)
                if token is None or attempt == _RECORD_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _token_owner(self, cursor: Any, token: str, digest: str) -> str | None:
        cursor.execute(f"SELECT query_execution_id, request_digest FROM query_executions "
                       f"WHERE client_request_token = {self.db.mark}", (token,))
        found = cursor.fetchone()
        if found is None:
            return None
        if found[1] != digest:
            raise InvalidRequestException(
                "ClientRequestToken was used before with other parameters (query, context, workgroup or "
                f"result configuration); it names query execution {found[0]}. Use a new token")
        return str(found[0])

    def _check_output_bucket(self, caller: Caller, output: str) -> None:
        """Refuse a start whose results could not be written: the output bucket must exist (the primary
        workgroup's default one is made). A bucket this caller saw within :data:`BUCKET_SEEN_SECONDS` is
        not asked again — a query that then finds it deleted fails writing its results, naming it."""
        bucket = output[len("lake://"):].split("/", 1)[0]
        seen = (caller.ctx.principal, bucket)
        now = time.monotonic()
        with self._lock():
            if now - self._buckets_seen.get(seen, -BUCKET_SEEN_SECONDS) < BUCKET_SEEN_SECONDS:
                return
        try:
            caller.lake.head_bucket(caller.ctx, BucketRequest(bucket=bucket))
            with self._lock():
                self._buckets_seen[seen] = now
        except NotFound:
            if output != DEFAULT_OUTPUT:
                raise InvalidRequestException(
                    f"output location {output} is in bucket {bucket!r}, which does not exist; create it with "
                    f"'crispml lake create-bucket --bucket {bucket}' or choose another location") from None
            with contextlib.suppress(AlreadyExists):  # another caller made it first
                caller.lake.create_bucket(caller.ctx, CreateBucketRequest(bucket=bucket))

    @staticmethod
    def _by_token(session: Session, token: str, digest: str) -> str | None:
        row = session.scalars(select(QueryExecutionRow).where(QueryExecutionRow.client_request_token == token)).first()
        if row is None:
            return None
        if row.request_digest != digest:
            raise InvalidRequestException(
                "ClientRequestToken was used before with other parameters (query, context, workgroup or "
                f"result configuration); it names query execution {row.query_execution_id}. Use a new token")
        return row.query_execution_id

    @staticmethod
    def _execution(session: Session, query_execution_id: str, *, lock: bool = False) -> QueryExecutionRow:
        query = select(QueryExecutionRow).where(QueryExecutionRow.query_execution_id == query_execution_id)
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise _unknown_execution(query_execution_id)
        return row

    def _current(self, query_execution_id: str) -> QueryExecutionRow:
        """An execution's row as it is now (closed first if its process died while it ran)."""
        row = self._read_execution(query_execution_id)
        if row.state in ACTIVE_STATES and not owner_alive(row.owner, row.heartbeat_at, self.clock.now()):
            self._settle(ids=[query_execution_id])
            row = self._read_execution(query_execution_id)
        return row

    def _read_execution(self, query_execution_id: str) -> QueryExecutionRow:
        row = self._hot().execution(query_execution_id)
        if row is None:
            raise _unknown_execution(query_execution_id)
        return row

    def _settle(self, *, ids: list[str] | None = None, workgroup: str | None = None) -> None:
        """Close executions whose process ended while they were queued or running: FAILED."""
        query = select(_TABLE.c.query_execution_id, _TABLE.c.owner, _TABLE.c.heartbeat_at).where(
            _TABLE.c.state.in_(ACTIVE_STATES))
        if ids is not None:
            query = query.where(_TABLE.c.query_execution_id.in_(ids))
        if workgroup is not None:
            query = query.where(_TABLE.c.workgroup == workgroup)
        now = self.clock.now()
        with self.db.connect() as conn:
            dead = [(r.query_execution_id, r.owner) for r in conn.execute(query)
                    if not owner_alive(r.owner, r.heartbeat_at, now)]
        for query_id, owner in dead:
            message = (f"the process running the query ({owner or 'unknown'}) ended before the query finished; "
                       "run it again")
            with self.db.begin() as conn:
                conn.execute(update(_TABLE).where(
                    _TABLE.c.query_execution_id == query_id, _TABLE.c.state.in_(ACTIVE_STATES),
                    _TABLE.c.owner == owner,
                ).values(state="FAILED", completed_at=now, state_change_reason=message, error_type="Internal",
                         error_message=message, owner=None, heartbeat_at=None))


def _unknown_execution(query_execution_id: str) -> InvalidRequestException:
    return InvalidRequestException(  # Athena's code for an unknown id, not ResourceNotFoundException
        f"query execution {query_execution_id!r} does not exist; list them with "
        "'crispml query list-query-executions'")


def _position(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        value = paging.decode_token(token)
    except ValueError:
        value = None
    if not isinstance(value, int):
        raise InvalidRequestException("NextToken is not valid; pass the one the previous page returned")
    return value


def execution_entity(row: QueryExecutionRow) -> QueryExecution:
    """A query execution as Athena shows it."""
    statistics: dict[str, Any] = json.loads(row.statistics or "{}")
    if not statistics.get("total_execution_time_in_millis") and row.completed_at is not None:
        statistics["total_execution_time_in_millis"] = int(
            (row.completed_at - row.submitted_at).total_seconds() * 1000)
    error = None
    if row.error_type is not None:
        family = error_class(row.error_type).family
        error = AthenaError(error_category=error_category(row.error_type), error_type=row.error_type,
                            retryable=family in ("Internal", "Unavailable"),
                            error_message=row.error_message or "")
    return QueryExecution(
        query_execution_id=row.query_execution_id, query=row.query, statement_type=row.statement_type,
        substatement_type=row.substatement_type,
        result_configuration=ResultConfiguration(output_location=row.output_location),
        query_execution_context=QueryExecutionContext(database=row.database, catalog=row.catalog),
        status=QueryExecutionStatus.model_validate({
            "state": row.state, "state_change_reason": row.state_change_reason,
            "submission_date_time": row.submitted_at, "completion_date_time": row.completed_at,
            "athena_error": error}),
        statistics=QueryExecutionStatistics.model_validate(
            {**statistics, "data_scanned_in_bytes": row.data_scanned_bytes}),
        work_group=row.workgroup,
        execution_parameters=json.loads(row.execution_parameters) if row.execution_parameters else None)
