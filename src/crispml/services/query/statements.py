"""Prepared statements and named queries (Athena): per-workgroup SQL kept in the metadata DB.

Prepared statements (``CreatePreparedStatement``, ``GetPreparedStatement``,
``ListPreparedStatements``, ``UpdatePreparedStatement``,
``DeletePreparedStatement``; in SQL ``PREPARE``/``DEALLOCATE PREPARE``, see
``parameters.py``) are named per workgroup, at most 1,000 per workgroup, as in
Athena; ``EXECUTE name USING …`` or ``ExecutionParameters`` run one. A
statement's SQL is checked to parse when it is stored, not resolved: its
tables are looked up when it runs, as the caller who runs it.

Named queries (``CreateNamedQuery``, ``GetNamedQuery``, ``BatchGetNamedQuery``,
``ListNamedQueries``, ``UpdateNamedQuery``, ``DeleteNamedQuery``) are saved SQL
with a name and a database, identified by a ``NamedQueryId``; the same
``ClientRequestToken`` with the same parameters creates one named query, with
other parameters it is refused. Running one is ``StartQueryExecution`` of its
``QueryString`` (``crispml query get-named-query`` shows it).

Errors are Athena's: an unknown statement or named query is
``ResourceNotFoundException``; a duplicate statement name, too many
statements or a statement that does not parse is ``InvalidRequestException``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.query.engines.base import EngineResult, ExecutionPlan, PreparedQuery, StatementType
from crispml.services.query.entities import (
    NamedQuery,
    PreparedStatement,
    PreparedStatementSummary,
    UnprocessedNamedQueryId,
)
from crispml.services.query.errors import InvalidRequestException, ResourceNotFoundException
from crispml.services.query.parameters import bind, check_statement, directive
from crispml.services.query.specs import (
    BatchGetNamedQueryRequest,
    BatchGetNamedQueryResponse,
    CreateNamedQueryRequest,
    CreateNamedQueryResponse,
    CreatePreparedStatementRequest,
    EmptyResponse,
    GetNamedQueryResponse,
    GetPreparedStatementResponse,
    ListNamedQueriesRequest,
    ListNamedQueriesResponse,
    ListPreparedStatementsRequest,
    ListPreparedStatementsResponse,
    NamedQueryRequest,
    PreparedStatementRequest,
    StartQueryExecutionRequest,
    UpdateNamedQueryRequest,
    UpdatePreparedStatementRequest,
)
from crispml.services.query.store import NamedQueryRow, PreparedStatementRow
from crispml.services.query.workgroups import WorkGroupOps, decode_token, workgroup_crn
from crispml.spine.operations import operation

#: Athena's limit of prepared statements in one workgroup.
MAX_PREPARED_STATEMENTS = 1000


def statement_crn(work_group: str, name: str) -> str:
    return crn("query", f"workgroup/{work_group}/prepared-statement/{name}")


def named_query_crn(named_query_id: str) -> str:
    return crn("query", f"named-query/{named_query_id}")


def _statement_entity(row: PreparedStatementRow) -> PreparedStatement:
    return PreparedStatement(statement_name=row.statement_name, query_statement=row.query_statement,
                             work_group_name=row.workgroup, description=row.description,
                             last_modified_time=row.last_modified_at)


def _named_entity(row: NamedQueryRow) -> NamedQuery:
    return NamedQuery(name=row.name, description=row.description, database=row.database,
                      query_string=row.query_string, named_query_id=row.named_query_id, work_group=row.workgroup)


def _digest(request: CreateNamedQueryRequest) -> str:
    fields = request.model_dump(mode="json", exclude={"client_request_token"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass
class DoneStatement:
    """A statement whose work was done when it was started (``PREPARE``, ``DEALLOCATE PREPARE``): its
    execution succeeds at once, with no rows and nothing scanned (a ``PreparedQuery`` of ``engines/base.py``)."""

    substatement_type: str
    database: str | None = None
    statement_type: StatementType = "UTILITY"
    plan_: ExecutionPlan = field(default_factory=ExecutionPlan)

    def plan(self) -> ExecutionPlan:
        return self.plan_

    def execute(self, plan: ExecutionPlan, cancelled: Callable[[], bool]) -> EngineResult:
        # written_table set (to no table): the run reports an UpdateCount of 0 and writes no results file
        return EngineResult(columns=[], batches=[], plan=plan, written_table="")

    def interrupt(self) -> None:
        return None


class StatementOps(WorkGroupOps):
    """Prepared statements and named queries of workgroups."""

    # -- prepared statements ----------------------------------------------------------------------

    @operation("CreatePreparedStatement", resource=lambda r: statement_crn(r.work_group, r.statement_name))
    def create_prepared_statement(self, ctx: CallContext, request: CreatePreparedStatementRequest) -> EmptyResponse:
        """Save a SQL statement under a name in a workgroup, to run later with EXECUTE … USING."""
        check_statement(request.query_statement)
        self._put_statement(request.work_group, request.statement_name, request.query_statement,
                            request.description, replace=False)
        return EmptyResponse()

    @operation("GetPreparedStatement", resource=lambda r: statement_crn(r.work_group, r.statement_name),
               mutating=False)
    def get_prepared_statement(self, ctx: CallContext,
                               request: PreparedStatementRequest) -> GetPreparedStatementResponse:
        """Show a prepared statement: its SQL, description and when it last changed."""
        return GetPreparedStatementResponse(
            prepared_statement=_statement_entity(self._statement(request.work_group, request.statement_name)))

    @operation("ListPreparedStatements", resource=lambda r: workgroup_crn(r.work_group), mutating=False)
    def list_prepared_statements(self, ctx: CallContext,
                                 request: ListPreparedStatementsRequest) -> ListPreparedStatementsResponse:
        """List a workgroup's prepared statements by name, a page at a time."""
        self._ensure_primary()
        after = decode_token(request.next_token)
        query = (select(PreparedStatementRow).where(PreparedStatementRow.workgroup == request.work_group)
                 .order_by(PreparedStatementRow.statement_name).limit(request.max_results + 1))
        if after is not None:
            query = query.where(PreparedStatementRow.statement_name > str(after))
        with self._reading() as session:
            self._workgroup(session, request.work_group)
            rows = list(session.scalars(query))
        page = rows[:request.max_results]
        return ListPreparedStatementsResponse(
            prepared_statements=[PreparedStatementSummary(statement_name=r.statement_name,
                                                          last_modified_time=r.last_modified_at) for r in page],
            next_token=paging.encode_token(page[-1].statement_name) if len(rows) > len(page) else None)

    @operation("UpdatePreparedStatement", resource=lambda r: statement_crn(r.work_group, r.statement_name))
    def update_prepared_statement(self, ctx: CallContext, request: UpdatePreparedStatementRequest) -> EmptyResponse:
        """Replace a prepared statement's SQL (and description)."""
        check_statement(request.query_statement)

        def work(session: Session) -> None:
            row = self._statement_row(session, request.work_group, request.statement_name, lock=True)
            row.query_statement = request.query_statement
            row.description = request.description
            row.last_modified_at = self.clock.now()

        self._writing(work)
        return EmptyResponse()

    @operation("DeletePreparedStatement", resource=lambda r: statement_crn(r.work_group, r.statement_name))
    def delete_prepared_statement(self, ctx: CallContext, request: PreparedStatementRequest) -> EmptyResponse:
        """Delete a prepared statement (DEALLOCATE PREPARE does the same in SQL)."""

        def work(session: Session) -> None:
            session.delete(self._statement_row(session, request.work_group, request.statement_name, lock=True))

        self._writing(work)
        return EmptyResponse()

    # -- named queries ----------------------------------------------------------------------------

    @operation("CreateNamedQuery", resource=lambda r: workgroup_crn(r.work_group))
    def create_named_query(self, ctx: CallContext, request: CreateNamedQueryRequest) -> CreateNamedQueryResponse:
        """Save a query with a name and database in a workgroup; returns its NamedQueryId."""
        self._ensure_primary()
        digest = _digest(request)
        token = request.client_request_token
        named_query_id = str(uuid.uuid4())

        def work(session: Session) -> str:
            self._workgroup(session, request.work_group)
            if token is not None:
                earlier = self._named_by_token(session, token, digest)
                if earlier is not None:
                    return earlier
            session.add(NamedQueryRow(
                named_query_id=named_query_id, workgroup=request.work_group, name=request.name,
                description=request.description, database=request.database, query_string=request.query_string,
                client_request_token=token, request_digest=digest, created_at=self.clock.now()))
            return named_query_id

        try:
            created = self._writing(work)
        except IntegrityError:
            if token is None:
                raise
            with self._reading() as session:  # a concurrent create with the same token won
                earlier = self._named_by_token(session, token, digest)
            if earlier is None:
                raise
            created = earlier
        return CreateNamedQueryResponse(named_query_id=created)

    @operation("GetNamedQuery", resource=lambda r: named_query_crn(r.named_query_id), mutating=False)
    def get_named_query(self, ctx: CallContext, request: NamedQueryRequest) -> GetNamedQueryResponse:
        """Show a named query: its name, database, SQL and workgroup."""
        with self._reading() as session:
            return GetNamedQueryResponse(named_query=_named_entity(self._named_row(session, request.named_query_id)))

    @operation("BatchGetNamedQuery", resource=lambda r: named_query_crn("*"), mutating=False)
    def batch_get_named_query(self, ctx: CallContext, request: BatchGetNamedQueryRequest) -> BatchGetNamedQueryResponse:
        """Show up to 50 named queries at once; ids that do not exist are listed as unprocessed."""
        ids = list(dict.fromkeys(request.named_query_ids))
        with self._reading() as session:
            rows = {r.named_query_id: r for r in session.scalars(
                select(NamedQueryRow).where(NamedQueryRow.named_query_id.in_(ids)))}
        return BatchGetNamedQueryResponse(
            named_queries=[_named_entity(rows[i]) for i in ids if i in rows],
            unprocessed_named_query_ids=[
                UnprocessedNamedQueryId(named_query_id=i, error_code=ResourceNotFoundException.code,
                                        error_message=f"named query {i!r} does not exist")
                for i in ids if i not in rows])

    @operation("ListNamedQueries", resource=lambda r: workgroup_crn(r.work_group), mutating=False)
    def list_named_queries(self, ctx: CallContext, request: ListNamedQueriesRequest) -> ListNamedQueriesResponse:
        """List a workgroup's named query ids, oldest first, a page at a time."""
        self._ensure_primary()
        after = decode_token(request.next_token)
        if after is not None and not isinstance(after, int):
            raise InvalidRequestException("NextToken is not valid; pass the one the previous page returned")
        query = (select(NamedQueryRow.seq, NamedQueryRow.named_query_id)
                 .where(NamedQueryRow.workgroup == request.work_group)
                 .order_by(NamedQueryRow.seq).limit(request.max_results + 1))
        if after is not None:
            query = query.where(NamedQueryRow.seq > after)
        with self._reading() as session:
            self._workgroup(session, request.work_group)
            rows = list(session.execute(query))
        page = rows[:request.max_results]
        return ListNamedQueriesResponse(
            named_query_ids=[r.named_query_id for r in page],
            next_token=paging.encode_token(page[-1].seq) if len(rows) > len(page) else None)

    @operation("UpdateNamedQuery", resource=lambda r: named_query_crn(r.named_query_id))
    def update_named_query(self, ctx: CallContext, request: UpdateNamedQueryRequest) -> EmptyResponse:
        """Change a named query's name, description and SQL."""

        def work(session: Session) -> None:
            row = self._named_row(session, request.named_query_id, lock=True)
            row.name, row.query_string, row.description = request.name, request.query_string, request.description

        self._writing(work)
        return EmptyResponse()

    @operation("DeleteNamedQuery", resource=lambda r: named_query_crn(r.named_query_id))
    def delete_named_query(self, ctx: CallContext, request: NamedQueryRequest) -> EmptyResponse:
        """Delete a named query."""

        def work(session: Session) -> None:
            session.delete(self._named_row(session, request.named_query_id, lock=True))

        self._writing(work)
        return EmptyResponse()

    # -- SQL: PREPARE, EXECUTE, DEALLOCATE PREPARE, ExecutionParameters --------------------------

    def _statement_to_run(self, ctx: CallContext,
                          request: StartQueryExecutionRequest) -> tuple[str, PreparedQuery | None]:
        """The SQL the engine runs for a StartQueryExecution (parameters bound, EXECUTE's statement looked up),
        or, for PREPARE and DEALLOCATE PREPARE, the statement done here and now as the caller (through the
        prepared-statement operations, so they are authorized and audited as such)."""
        values = request.execution_parameters
        found = directive(request.query_string)
        if found is None:
            return bind(request.query_string, values), None
        work_group, name = request.work_group, found.name
        if found.kind == "EXECUTE":
            if found.using is not None and values:
                raise InvalidRequestException(
                    f"EXECUTE {name} gives its values both in USING and in ExecutionParameters; give them once")
            statement = self.get_prepared_statement(
                ctx, PreparedStatementRequest(statement_name=name, work_group=work_group)).prepared_statement
            return bind(statement.query_statement, found.using if found.using is not None else values), None
        if values:
            raise InvalidRequestException(f"{found.kind} takes no ExecutionParameters; pass them to EXECUTE {name}")
        if found.kind == "DEALLOCATE":
            self.delete_prepared_statement(ctx, PreparedStatementRequest(statement_name=name, work_group=work_group))
            return request.query_string, DoneStatement("DEALLOCATE")
        assert found.statement is not None
        with self._reading() as session:
            earlier = session.get(PreparedStatementRow, (work_group, name))
        if earlier is None:  # PREPARE of a name in use replaces that statement, as Athena's does
            self.create_prepared_statement(ctx, CreatePreparedStatementRequest(
                statement_name=name, work_group=work_group, query_statement=found.statement))
        else:
            self.update_prepared_statement(ctx, UpdatePreparedStatementRequest(
                statement_name=name, work_group=work_group, query_statement=found.statement,
                description=earlier.description))
        return request.query_string, DoneStatement("PREPARE")

    # -- shared -----------------------------------------------------------------------------------

    def _put_statement(self, work_group: str, name: str, sql: str, description: str | None, *,
                       replace: bool) -> None:
        """Store a prepared statement; ``replace`` overwrites one of the same name (SQL ``PREPARE``)."""
        self._ensure_primary()
        exists = InvalidRequestException(
            f"prepared statement {name!r} already exists in workgroup {work_group!r}; change it with "
            "UpdatePreparedStatement or delete it first")

        def work(session: Session) -> None:
            self._workgroup(session, work_group)
            row = session.get(PreparedStatementRow, (work_group, name), with_for_update=True)
            if row is not None and not replace:
                raise exists
            if row is not None:
                row.query_statement, row.last_modified_at = sql, self.clock.now()
                if description is not None:
                    row.description = description
                return
            held = session.scalar(select(func.count()).select_from(PreparedStatementRow)
                                  .where(PreparedStatementRow.workgroup == work_group)) or 0
            if held >= MAX_PREPARED_STATEMENTS:
                raise InvalidRequestException(
                    f"workgroup {work_group!r} holds {held} prepared statements, Athena's limit; delete some "
                    "with DeletePreparedStatement (DEALLOCATE PREPARE) first")
            session.add(PreparedStatementRow(workgroup=work_group, statement_name=name, query_statement=sql,
                                             description=description, last_modified_at=self.clock.now()))

        try:
            self._writing(work)
        except IntegrityError as exc:  # a concurrent create of the same name won
            if replace:
                raise
            raise exists from exc

    def _statement(self, work_group: str, name: str) -> PreparedStatementRow:
        self._ensure_primary()
        with self._reading() as session:
            return self._statement_row(session, work_group, name)

    def _statement_row(self, session: Session, work_group: str, name: str, *,
                       lock: bool = False) -> PreparedStatementRow:
        row = session.get(PreparedStatementRow, (work_group, name), with_for_update=lock)
        if row is None:
            self._workgroup(session, work_group)
            raise ResourceNotFoundException(
                f"prepared statement {name!r} does not exist in workgroup {work_group!r}; list them with "
                f"'crispml query list-prepared-statements --work-group {work_group}'")
        return row

    @staticmethod
    def _named_row(session: Session, named_query_id: str, *, lock: bool = False) -> NamedQueryRow:
        query = select(NamedQueryRow).where(NamedQueryRow.named_query_id == named_query_id)
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise ResourceNotFoundException(
                f"named query {named_query_id!r} does not exist; list them with 'crispml query list-named-queries'")
        return row

    @staticmethod
    def _named_by_token(session: Session, token: str, digest: str) -> str | None:
        row = session.scalars(select(NamedQueryRow).where(NamedQueryRow.client_request_token == token)).first()
        if row is None:
            return None
        if row.request_digest != digest:
            raise InvalidRequestException(
                "ClientRequestToken was used before with other parameters; it names named query "
                f"{row.named_query_id}. Use a new token")
        return row.named_query_id
