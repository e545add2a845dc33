"""Athena's DDL through the catalog's operations: SHOW, DESCRIBE, CREATE, ALTER … PARTITION, MSCK, DROP, EXPLAIN.

A DDL statement reads no data files: ``prepare`` checks what it says (a bad
statement raises ``InvalidArgument`` at once, as Athena rejects it at
submission), and ``execute`` — on the execution's worker, like any statement —
calls the catalog's operations as the caller (``GetTables``, ``CreateTable``,
``BatchCreatePartition``, ``DeleteDatabase``, …), so each is authorized and
audited as that principal's: a caller without the grant ends ``FAILED`` with
``AccessDenied`` and nothing changed. Results have Athena's shapes: one
``string`` column named as Athena names it (``database_name``, ``tab_name``,
``field``, ``partition``, ``createtab_stmt``, ``col_name``), one row per line;
statements that only change the catalog return no columns.

The statements are read in ``ddl_sql.py``; table definitions and their text
(``SHOW CREATE TABLE``, ``DESCRIBE``) are in ``ddl_text.py``; partitions
(``ALTER TABLE … PARTITION``, ``MSCK REPAIR TABLE``) in ``ddl_partitions.py``;
views in ``views.py``. Deliberately not here: DML (``UPDATE``, ``MERGE``, …).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from crispml.core.errors import AlreadyExists, CrispmlError, InvalidArgument, NotFound
from crispml.core.hive import check_location, partition_path
from crispml.services.catalog.service import (
    CreateDatabaseRequest,
    CreateTableRequest,
    DatabaseRequest,
    Table,
    TableRequest,
)
from crispml.services.query.engines.base import (
    Caller,
    ColumnInfo,
    EngineResult,
    ExecutionPlan,
    QueryCancelled,
    QueryFailed,
    StatementType,
)
from crispml.services.query.engines.duckdb import ddl_text, views
from crispml.services.query.engines.duckdb.access import LakeAccess
from crispml.services.query.engines.duckdb.ddl_partitions import (
    add_partitions,
    drop_partitions,
    partitioned,
    partitions_of,
    repair,
)
from crispml.services.query.engines.duckdb.ddl_sql import Ddl
from crispml.services.query.engines.duckdb.errors import error_type, lake_message, translate
from crispml.services.query.engines.duckdb.resolve import database_names, lookup, require_database, tables_of
from crispml.services.query.engines.duckdb.sql import DATA_CATALOG, Statement

if TYPE_CHECKING:
    from crispml.services.query.engines.duckdb.engine import DuckDBEngine, DuckDBQuery

#: Rows of a result: one string per column.
Rows = tuple[list[str], list[list[str | None]]]


class DdlQuery:
    """One prepared DDL statement (the ``PreparedQuery`` of ``engines/base.py``)."""

    def __init__(self, engine: DuckDBEngine, caller: Caller, statement: Statement, ddl: Ddl, database: str | None,
                 *, output_location: str | None, query_execution_id: str) -> None:
        self.engine = engine
        self.caller = caller
        self.statement = statement
        self.ddl = ddl
        self.statement_type: StatementType = "UTILITY" if ddl.action == "EXPLAIN" else "DDL"
        self.substatement_type = ddl.action
        self.database = ddl.database or database
        self.output_location = output_location
        self.query_execution_id = query_execution_id
        #: CREATE TABLE: the database and the CreateTable request, checked at submission.
        self.create: CreateTableRequest | None = None
        #: EXPLAIN: the statement explained, prepared.
        self.inner: DuckDBQuery | None = None

    # -- prepare -----------------------------------------------------------------------------------

    def check(self) -> None:
        """Refuse at submission what cannot run: names missing, a table definition the catalog would refuse."""
        ddl = self.ddl
        if ddl.action == "CREATE_TABLE":
            assert ddl.tree is not None
            self.create = ddl_text.create_request(ddl.tree, self.database)
            self.database = self.create.database_name
        elif ddl.action == "CREATE_VIEW":
            self.database = views.check_create(self)
        elif ddl.action == "EXPLAIN":
            self.inner = _explained(self)
        elif ddl.action not in ("SHOW_DATABASES", "CREATE_DATABASE", "DROP_DATABASE") and not self.database:
            raise InvalidArgument(f"{ddl.action.replace('_', ' ')} needs a database: name it (db.{ddl.name or 'table'}"
                                  f"{', IN db' if ddl.action in ('SHOW_TABLES', 'SHOW_VIEWS') else ''}) or pass a "
                                  "database with the query")
        if ddl.action == "CREATE_DATABASE" and ddl.location:
            ddl.location = check_location(ddl.location)
        for spec in ddl.partitions:
            if spec.location:
                spec.location = check_location(spec.location, what="partition LOCATION")

    # -- run ------------------------------------------------------------------------------------------

    def plan(self) -> ExecutionPlan:
        """What the statement reads: nothing, except an EXPLAIN ANALYZE, which runs its statement."""
        if self.inner is not None and self.ddl.options.get("ANALYZE"):
            return self.inner.plan()
        return ExecutionPlan()

    def execute(self, plan: ExecutionPlan, cancelled: Callable[[], bool]) -> EngineResult:
        """Call the catalog's operations as the caller; the result rows in Athena's shape."""
        if cancelled():
            raise QueryCancelled("the query was cancelled before it started")
        try:
            names, rows = _RUN[self.ddl.action](self)
        except (QueryFailed, QueryCancelled):
            raise
        except CrispmlError as exc:
            raise QueryFailed(exc.message, error_type(exc)) from exc
        columns = [ColumnInfo(name=n, type="string") for n in names]
        data = {n: pa.array([row[i] for row in rows], pa.string()) for i, n in enumerate(names)}
        batches = pa.table(data).to_reader() if names else pa.RecordBatchReader.from_batches(pa.schema([]), [])
        written = f"{self.database}.{self.ddl.name}" if self.ddl.action in _WRITES and self.ddl.name else None
        return EngineResult(columns=columns, batches=batches, plan=plan, written_table=written)

    def interrupt(self) -> None:
        """Stop an EXPLAIN ANALYZE; a catalog call is short and runs to its end."""
        if self.inner is not None:
            self.inner.interrupt()

    # -- helpers ------------------------------------------------------------------------------------

    def table(self) -> Table:
        assert self.database is not None and self.ddl.name is not None
        return lookup(self.caller, self.database, self.ddl.name)

    def qualified(self) -> str:
        return f"{self.database}.{self.ddl.name}"


def prepare_ddl(engine: DuckDBEngine, caller: Caller, statement: Statement, database: str | None, *,
                output_location: str | None, query_execution_id: str) -> DdlQuery:
    """A DDL statement checked at submission (see :class:`DdlQuery`)."""
    ddl = statement.ddl
    assert isinstance(ddl, Ddl)
    if ddl.database == DATA_CATALOG:
        ddl.database = None
    query = DdlQuery(engine, caller, statement, ddl, (database or "").lower() or None,
                     output_location=output_location, query_execution_id=query_execution_id)
    query.check()
    return query


_WRITES = ("CREATE_TABLE", "CREATE_VIEW", "ALTER_TABLE_ADD_PARTITION", "ALTER_TABLE_DROP_PARTITION",
           "MSCK_REPAIR_TABLE", "DROP_TABLE", "DROP_VIEW")


# -- listing ------------------------------------------------------------------------------------------


def matcher(pattern: str | None) -> Callable[[str], bool]:
    """Athena's SHOW … LIKE pattern: ``*`` any run of characters, ``|`` alternatives, case-insensitive."""
    if pattern is None:
        return lambda name: True
    choices = [re.escape(part.strip()).replace(r"\*", ".*") for part in pattern.split("|")]
    regex = re.compile("|".join(f"(?:{c})" for c in choices), re.IGNORECASE)
    return lambda name: regex.fullmatch(name) is not None


def _show_databases(query: DdlQuery) -> Rows:
    matches = matcher(query.ddl.pattern)
    return ["database_name"], [[n] for n in sorted(database_names(query.caller)) if matches(n)]


def _show_tables(query: DdlQuery) -> Rows:
    assert query.database is not None
    require_database(query.caller, query.database)
    matches = matcher(query.ddl.pattern)
    only_views = query.ddl.action == "SHOW_VIEWS"
    found = sorted(t.name for t in tables_of(query.caller, query.database)
                   if matches(t.name) and (t.is_view or not only_views))
    return ["views" if only_views else "tab_name"], [[n] for n in found]


def _show_columns(query: DdlQuery) -> Rows:
    table = query.table()
    return ["field"], [[c.name] for c in [*table.storage_descriptor.columns, *table.partition_keys]]


def _show_partitions(query: DdlQuery) -> Rows:
    table = partitioned(query, "SHOW PARTITIONS")
    keys = [k.name for k in table.partition_keys]
    found = sorted(partition_path(keys, p.values).rstrip("/") for p in partitions_of(
        query.caller, table.database_name, table.name))
    return ["partition"], [[p] for p in found]


def _show_create(query: DdlQuery) -> Rows:
    table = query.table()
    if query.ddl.action == "SHOW_CREATE_VIEW":
        if not table.is_view:
            raise InvalidArgument(f"{query.qualified()} is a table, not a view; use SHOW CREATE TABLE")
        return ["Create View"], [[views.create_text(table)]]
    if table.is_view:
        raise InvalidArgument(f"{query.qualified()} is a view; use SHOW CREATE VIEW")
    return ["createtab_stmt"], [[line] for line in ddl_text.create_table_text(table)]


def _describe(query: DdlQuery) -> Rows:
    return ["col_name"], [[line] for line in ddl_text.describe(query.table(), formatted=query.ddl.formatted)]


# -- changing the catalog ------------------------------------------------------------------------------


def _create_database(query: DdlQuery) -> Rows:
    ddl = query.ddl
    database_input: dict[str, Any] = {"Name": ddl.name, "Parameters": ddl.properties}
    if ddl.comment is not None:
        database_input["Description"] = ddl.comment
    if ddl.location is not None:
        database_input["LocationUri"] = ddl.location
    request: dict[str, Any] = {"database_input": database_input}
    try:
        query.caller.catalog.create_database(query.caller.ctx, CreateDatabaseRequest(**request))
    except AlreadyExists:
        if not ddl.if_exists:
            raise
    return [], []


def _create_table(query: DdlQuery) -> Rows:
    assert query.create is not None
    try:
        query.caller.catalog.create_table(query.caller.ctx, query.create)
    except AlreadyExists:
        if not query.ddl.if_exists:
            raise
    return [], []


def _drop_table(query: DdlQuery) -> Rows:
    view = query.ddl.action == "DROP_VIEW"
    try:
        table = query.table()
    except NotFound:
        if query.ddl.if_exists:
            return [], []
        raise
    if table.is_view != view:
        kind, other = ("a table", "DROP TABLE") if view else ("a view", "DROP VIEW")
        raise InvalidArgument(f"{query.qualified()} is {kind}; drop it with {other}")
    query.caller.catalog.delete_table(query.caller.ctx, TableRequest(database_name=table.database_name,
                                                                     name=table.name))
    return [], []


def _drop_database(query: DdlQuery) -> Rows:
    ddl = query.ddl
    assert ddl.name is not None
    caller = query.caller
    try:
        require_database(caller, ddl.name)
    except NotFound:
        if ddl.if_exists:
            return [], []
        raise
    if not ddl.cascade:
        held = [t.name for t in tables_of(caller, ddl.name)]
        if held:
            raise InvalidArgument(f"database {ddl.name} is not empty (it holds {', '.join(held[:5])}"
                                  f"{', …' if len(held) > 5 else ''}); drop its tables first, or DROP DATABASE "
                                  f"{ddl.name} CASCADE")
    caller.catalog.delete_database(caller.ctx, DatabaseRequest(name=ddl.name))
    return [], []


# -- EXPLAIN -------------------------------------------------------------------------------------------


def _explained(query: DdlQuery) -> DuckDBQuery:
    ddl = query.ddl
    assert ddl.inner is not None
    kind = ddl.options.get("TYPE", "LOGICAL")
    if kind not in ("LOGICAL", "DISTRIBUTED", "VALIDATE"):
        raise InvalidArgument(f"EXPLAIN (TYPE {kind}) is not supported; use TYPE LOGICAL, DISTRIBUTED or VALIDATE")
    if ddl.options.get("FORMAT", "TEXT") != "TEXT":
        raise InvalidArgument(f"EXPLAIN (FORMAT {ddl.options['FORMAT']}) is not supported; use FORMAT TEXT")
    inner = query.engine.prepare(query.caller, ddl.inner, query.database, output_location=query.output_location,
                                 query_execution_id=query.query_execution_id)
    if isinstance(inner, DdlQuery) or inner.substatement_type != "SELECT":
        raise InvalidArgument(f"EXPLAIN explains queries (SELECT …), not {inner.substatement_type.replace('_', ' ')}")
    return inner


def _explain(query: DdlQuery) -> Rows:
    inner = query.inner
    assert inner is not None
    if query.ddl.options.get("TYPE") == "VALIDATE":
        return ["Valid"], [["true"]]
    if inner.scans is None:
        inner.plan()
    assert inner.scans is not None
    access = LakeAccess(query.caller, query.engine.links)
    paths = access.paths_of(inner.scans)
    try:
        laid = inner.lay_out(access, paths)  # before the database is sealed to the paths it lays out
        con = query.engine.connection(isolated=access.needs_filesystem, paths=access.allowed(),
                                      scratch=access.scratch())
    except BaseException:
        access.close()
        raise
    try:
        if access.needs_filesystem:
            access.register(con)
        inner._con = con  # so that interrupt() reaches an EXPLAIN ANALYZE
        sql = inner.define_views(con, paths, laid)  # the engine's own views of the tables
        analyze = "ANALYZE " if query.ddl.options.get("ANALYZE") else ""
        rows = con.execute(f"EXPLAIN {analyze}{sql}").fetchall()
    except CrispmlError:
        raise
    except Exception as exc:
        raise translate(exc, access.paths) from exc
    finally:
        with contextlib.suppress(Exception):
            con.close()
        access.close()
    plan = "\n".join(str(r[-1]) for r in rows)
    return ["Query Plan"], [[lake_message(plan, access.paths)]]


_RUN: dict[str, Callable[[DdlQuery], Rows]] = {
    "SHOW_DATABASES": _show_databases,
    "SHOW_TABLES": _show_tables,
    "SHOW_VIEWS": _show_tables,
    "SHOW_COLUMNS": _show_columns,
    "SHOW_PARTITIONS": _show_partitions,
    "SHOW_CREATE_TABLE": _show_create,
    "SHOW_CREATE_VIEW": _show_create,
    "DESCRIBE_TABLE": _describe,
    "CREATE_DATABASE": _create_database,
    "CREATE_TABLE": _create_table,
    "CREATE_VIEW": lambda query: views.create(query),
    "ALTER_TABLE_ADD_PARTITION": add_partitions,
    "ALTER_TABLE_DROP_PARTITION": drop_partitions,
    "MSCK_REPAIR_TABLE": repair,
    "DROP_TABLE": _drop_table,
    "DROP_VIEW": _drop_table,
    "DROP_DATABASE": _drop_database,
    "EXPLAIN": _explain,
}
