"""The DuckDB engine: Athena SQL over catalog tables, one DuckDB connection per execution.

``DuckDBEngine().prepare(caller, sql, database, …)`` parses the statement and
resolves its tables (``sql.py``, ``resolve.py``), and finds the WHERE
conjuncts that prune partitions (``rewrite.py``); :meth:`DuckDBQuery.plan`
lists the files each table reference reads (``scan.py``, Iceberg scans through
the catalog); :meth:`DuckDBQuery.execute` authorizes each file read as the
caller (``access.py``), defines one DuckDB view per table reference over those
files (``readers.py``), and runs the rewritten statement, streaming the rows
as Arrow record batches. CTAS, INSERT and DELETE are in ``writes.py``.

Deliberately not here: executions, states, result files and the workgroup's
bytes-scanned cutoff (the query service's), and SQL that only manages the
catalog (``SHOW``, ``DESCRIBE``, ``CREATE``, ``ALTER``, ``DROP``: ``ddl.py`` runs
those through the catalog's operations; views are expanded by ``views.py``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

import duckdb
from crispml.core.errors import InvalidArgument
from crispml.core.ticker import TICKER
from crispml.services.query.engines.base import (
    Caller,
    EngineResult,
    ExecutionPlan,
    QueryCancelled,
    QueryFailed,
    StatementType,
)
from crispml.services.query.engines.duckdb import iceberg, readers, views
from crispml.services.query.engines.duckdb.access import LakeAccess
from crispml.services.query.engines.duckdb.errors import translate
from crispml.services.query.engines.duckdb.resolve import Column, TableRef, lookup, names, time_travel
from crispml.services.query.engines.duckdb.rewrite import alias_of, output_name, pruning_conjuncts, render
from crispml.services.query.engines.duckdb.scan import PRUNE_ALIAS, Scan, plan_external
from crispml.services.query.engines.duckdb.sql import Statement, engine_syntax_error, parse, table_references
from crispml.services.query.engines.duckdb.types import athena_column, athena_relation

if TYPE_CHECKING:
    from crispml.services.catalog.service import Table
    from crispml.services.query.engines.duckdb.ddl import DdlQuery

#: How often the cancellation callback is polled while DuckDB runs (seconds).
POLL_SECONDS = 0.05
#: Rows per streamed record batch.
BATCH_ROWS = 64 * 1024


class DuckDBEngine:
    """Athena SQL on DuckDB (the ``QueryEngine`` of ``engines/base.py``).

    ``threads`` and ``memory_limit`` bound each execution's DuckDB
    connection (default: DuckDB's own, all cores and 80 % of memory).
    """

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None,
                 batch_rows: int = BATCH_ROWS) -> None:
        self.config: dict[str, Any] = {"autoinstall_known_extensions": False}
        if threads is not None:
            self.config["threads"] = threads
        if memory_limit is not None:
            self.config["memory_limit"] = memory_limit
        self.batch_rows = batch_rows
        self._database: duckdb.DuckDBPyConnection | None = None
        self._parser: duckdb.DuckDBPyConnection | None = None  # a database of its own, only for parsing
        self._lock = threading.Lock()

    def connection(self, *, isolated: bool = False) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for one execution.

        Executions share one in-memory database (opening one costs ~15 ms, a
        connection to it ~0.02 ms, and they share one memory budget); their
        views and registrations are private to their connection. ``isolated``
        opens a database of its own, for an execution that registers a
        filesystem acting as its caller (DuckDB registers those per database).
        """
        if isolated:
            con = duckdb.connect(config=dict(self.config))
        else:
            with self._lock:
                if self._database is None:
                    self._database = duckdb.connect(config=dict(self.config))
                con = self._database.cursor()
        con.execute("SET integer_division = true")  # Trino's 5 / 2 is 2; DuckDB's is 2.5 by default
        return con

    def parse_check(self, sql: str) -> None:
        """Parse ``sql`` with DuckDB's parser (raises ``duckdb.ParserException``); runs nothing."""
        with self._lock:
            if self._parser is None:
                self._parser = duckdb.connect(config=dict(self.config))
            self._parser.extract_statements(sql)

    def close(self) -> None:
        """Close the shared database (executions still streaming rows fail; new ones open it again)."""
        with self._lock:
            databases = [d for d in (self._database, self._parser) if d is not None]
            self._database = self._parser = None
        for database in databases:
            database.close()

    def prepare(self, caller: Caller, sql: str, database: str | None, *, output_location: str | None,
                query_execution_id: str) -> DuckDBQuery | DdlQuery:
        """Parse ``sql`` and resolve its tables as ``caller``; read no data (see ``engines/base.py``)."""
        statement = parse(sql)
        if statement.ddl is not None:  # the catalog's statements (ddl.py)
            from crispml.services.query.engines.duckdb.ddl import prepare_ddl

            return prepare_ddl(self, caller, statement, database, output_location=output_location,
                               query_execution_id=query_execution_id)
        target = _target(statement)
        if target is not None and statement.substatement_type in ("INSERT", "DELETE"):
            views.refuse_write(caller, target, database, statement.substatement_type.replace("_", " "))
        known = views.expand(caller, statement.tree, (database or "").lower() or None, target)
        refs: list[TableRef] = []
        for node in table_references(statement.tree):
            if target is not None and node is target:
                continue
            refs.append(_resolve(caller, node, database, known.get(id(node))))
        first = refs[0].database if refs else None
        query = DuckDBQuery(self, caller, statement, (database or first or "").lower() or None, refs,
                            output_location=output_location, query_execution_id=query_execution_id)
        if target is not None:
            from crispml.services.query.engines.duckdb.writes import prepare_write

            query.write = prepare_write(query, target)
            query.database = query.database or query.write.database
        query.check_syntax(sql)
        return query


def _target(statement: Statement) -> exp.Table | None:
    """The table a CTAS, INSERT or DELETE writes."""
    if statement.substatement_type not in ("CREATE_TABLE_AS_SELECT", "INSERT", "DELETE"):
        return None
    node = statement.tree.this
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        raise InvalidArgument(f"{statement.substatement_type} needs a table name, e.g. db.table")
    return node


def _resolve(caller: Caller, node: exp.Table, default_database: str | None, table: Table | None = None) -> TableRef:
    database, name = names(node, default_database)
    ref = TableRef(database, name, table or lookup(caller, database, name), node, alias_of(node), time_travel(node))
    if ref.as_of is not None and not ref.is_iceberg:
        raise InvalidArgument(f"table {ref.qualified} is an external table and has no snapshots; FOR VERSION/"
                              "TIMESTAMP AS OF reads Iceberg tables (table_type=ICEBERG)")
    if ref.keys:
        ref.prune = pruning_conjuncts(node, ref.alias, [k.name for k in ref.keys], PRUNE_ALIAS)
    return ref


class DuckDBQuery:
    """One prepared statement (the ``PreparedQuery`` of ``engines/base.py``)."""

    def __init__(self, engine: DuckDBEngine, caller: Caller, statement: Statement, database: str | None,
                 refs: list[TableRef], *, output_location: str | None, query_execution_id: str) -> None:
        self.engine = engine
        self.caller = caller
        self.statement = statement
        self.statement_type: StatementType = statement.statement_type
        self.substatement_type = statement.substatement_type
        self.database = database
        self.refs = refs
        self.output_location = output_location
        self.query_execution_id = query_execution_id
        self.write: Any = None  # writes.Write for CTAS / INSERT / DELETE
        self.scans: list[Scan] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._rendered: tuple[tuple[int, tuple[str, ...]], str] | None = None
        self._interrupted = threading.Event()

    def check_syntax(self, sql: str) -> None:
        """Parse the rewritten statement with DuckDB's parser (sqlglot accepts a few things DuckDB does not)."""
        tree = self.write.source_tree() if self.write is not None else self.statement.tree
        if tree is None:
            return
        rendered = self._render(tree, [_view(i) for i in range(len(self.refs))])
        try:
            self.engine.parse_check(rendered)
        except duckdb.ParserException as exc:
            raise engine_syntax_error(str(exc), sql) from None

    def _render(self, tree: Any, views: list[str]) -> str:
        """The statement over ``views``; rendered once (a check and the run render the same thing)."""
        key = (id(tree), tuple(views))
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, render(tree, self.refs, views, outermost=self.write is None))
        return self._rendered[1]

    # -- plan --------------------------------------------------------------------

    def plan(self) -> ExecutionPlan:
        """List the files every table reference reads, after partition pruning; read none of them."""
        # DuckDB evaluates the partition predicates; a statement with none needs no connection
        con = self.engine.connection() if any(ref.prune for ref in self.refs) else None
        try:
            scans = [iceberg.plan(self.caller, ref, con) if ref.is_iceberg else plan_external(self.caller, ref, con)
                     for ref in self.refs]
        finally:
            if con is not None:
                con.close()
        self.scans = scans
        tables = list(dict.fromkeys(s.ref.qualified for s in scans))
        return ExecutionPlan(data_scanned_bytes=sum(s.bytes for s in scans),
                             files=[f.uri for s in scans for f in s.files], tables=tables)

    # -- execute -----------------------------------------------------------------

    def execute(self, plan: ExecutionPlan, cancelled: Callable[[], bool]) -> EngineResult:
        """Run the statement and stream its rows; see ``engines/base.py``."""
        if self.scans is None:
            plan = self.plan()
        assert self.scans is not None
        if cancelled() or self._interrupted.is_set():
            raise QueryCancelled("the query was cancelled before it started")
        access = LakeAccess(self.caller)
        paths = access.paths_of(self.scans)
        con = self.engine.connection(isolated=access.needs_filesystem)
        if access.needs_filesystem:
            access.register(con)
        self._con = con
        stop = _CancelWatch(cancelled, self.interrupt)
        try:
            if self._interrupted.is_set():
                raise QueryCancelled("the query was cancelled")
            sql = self._define_views(con, access, paths)
            if self.write is not None:
                result: EngineResult = self.write.run(con, access, sql, plan)
                _close(con, stop, access)
                return result
            relation, _ = athena_relation(con, sql)
            columns = [athena_column(output_name(n, i), t)
                       for i, (n, t) in enumerate(zip(relation.columns, relation.types, strict=True))]
            reader = relation.to_arrow_reader(self.engine.batch_rows)
        except BaseException as exc:
            _close(con, stop, access)
            raise self._failure(exc, access) from exc
        batches = pa.RecordBatchReader.from_batches(reader.schema, self._stream(reader, con, stop, access))
        return EngineResult(columns=columns, batches=batches, plan=plan)

    def _define_views(self, con: duckdb.DuckDBPyConnection, access: LakeAccess, paths: list[list[list[str]]]) -> str:
        """One view per table reference over its files; the statement rewritten onto them."""
        assert self.scans is not None
        views: list[str] = []
        for position, (scan, scan_paths) in enumerate(zip(self.scans, paths, strict=True)):
            view = _view(position)
            if scan.iceberg is not None:
                iceberg.define_view(con, scan, [p for part in scan_paths for p in part], view)
            else:
                con.execute(f"CREATE TEMP VIEW {readers.quote_ident(view)} AS "
                            f"{self._scan_sql(con, access, position, scan, scan_paths)}")
            views.append(view)
        tree = self.write.source_tree() if self.write is not None else self.statement.tree
        if tree is None:
            return ""
        return self._render(tree, views)

    def _scan_sql(self, con: duckdb.DuckDBPyConnection, access: LakeAccess, position: int, scan: Scan,
                  paths: list[list[str]]) -> str:
        """The SELECT over one table reference's files: one reader over Hive-style links when every file is
        local, else a UNION ALL of one reader per partition with its key values as constants."""
        ref = scan.ref
        columns, keys = ref.columns, ref.keys
        if not scan.parts:
            return readers.empty(columns + keys)
        if all(access.is_local(p) for part in paths for p in part):
            linked = access.link(f"scan{position}", [k.name for k in keys], [
                (part.values, [(path, f.key) for path, f in zip(part_paths, part.files, strict=True)])
                for part, part_paths in zip(scan.parts, paths, strict=True)])
            return self._reader(con, ref, linked, keys)
        selects = [readers.with_keys(self._reader(con, ref, part_paths, None), keys, part.values)
                   for part, part_paths in zip(scan.parts, paths, strict=True)]
        return " UNION ALL ".join(selects)

    @staticmethod
    def _reader(con: duckdb.DuckDBPyConnection, ref: TableRef, paths: list[str], keys: list[Column] | None) -> str:
        fmt = ref.table.format
        if fmt == "parquet":
            return readers.read_parquet(paths, ref.columns, keys)
        if fmt == "csv":
            return readers.read_csv(paths, ref.columns, ref.table.csv_options, keys)
        if fmt == "json":
            return readers.read_json(paths, ref.columns, readers.json_keys(con, paths), keys)
        raise QueryFailed(f"table {ref.qualified} has format {fmt!r}, which the engine cannot read "
                          "(formats: csv, json, parquet)", "InvalidArgument")

    def _stream(self, reader: Any, con: duckdb.DuckDBPyConnection, stop: _CancelWatch,
                access: LakeAccess) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        except BaseException as exc:
            raise self._failure(exc, access) from exc
        finally:
            _close(con, stop, access)

    def _failure(self, exc: BaseException, access: LakeAccess) -> BaseException:
        if self._interrupted.is_set() and not isinstance(exc, QueryFailed):
            return QueryCancelled("the query was cancelled")
        return translate(exc, access.paths)

    def interrupt(self) -> None:
        """Stop a running ``execute`` (or the streaming of its rows) from another thread."""
        self._interrupted.set()
        con = self._con
        if con is not None:
            try:
                con.interrupt()
            except duckdb.Error:
                return  # the connection is closed: nothing is running


def _view(position: int) -> str:
    """The view of a statement's ``position``-th table reference."""
    return f"__scan_{position}"


class _CancelWatch:
    """Interrupts the engine once ``cancelled()`` says so: a watch on the process's ticker.

    ``end()`` cancels it before the connection closes: left running, it could be inside DuckDB's
    ``interrupt()`` (C++) when the interpreter shuts down, and a thread torn down there aborts the process.
    """

    def __init__(self, cancelled: Callable[[], bool], interrupt: Callable[[], None]) -> None:
        self._cancelled = cancelled
        self._interrupt = interrupt
        self._watch = TICKER.add(self._check, POLL_SECONDS)

    def _check(self) -> bool:
        try:
            wanted = self._cancelled()
        except Exception:  # a failing callback must not end the watch silently
            wanted = False
        if wanted:
            self._interrupt()
        return not wanted

    def end(self) -> None:
        self._watch.cancel()


def _close(con: duckdb.DuckDBPyConnection, stop: _CancelWatch, access: LakeAccess) -> None:
    stop.end()
    with contextlib.suppress(duckdb.Error):  # closed already
        con.close()
    access.close()
