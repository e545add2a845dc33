"""The DuckDB engine: Athena SQL over catalog tables, one DuckDB connection per execution.

``DuckDBEngine().prepare(caller, sql, database, …)`` parses the statement and
resolves its tables (``sql.py``, ``resolve.py``), and finds the WHERE
conjuncts that prune partitions (``rewrite.py``); :meth:`DuckDBQuery.plan`
lists the files each table reference reads (``scan.py``, Iceberg scans through
the catalog), authorizes each file read as the caller (``access.py``) and
counts the bytes scanned (``scanned.py``); :meth:`DuckDBQuery.execute` reads
each table reference's files in a subquery in its place (a view, for writes;
``readers.py``, compressed text through ``compressed.py``)
and runs the rewritten statement, streaming the rows as Arrow record batches.
CTAS, INSERT and DELETE are in ``writes.py``. Every statement is sealed
(``seal.py``): refused at parse time if it names a file, engine state or a
DuckDB-only statement, and run on a database that can reach only the files its
tables resolved to (and its scratch folder). What does not
change from one statement to the next is kept by the engine: the Hive-style
link trees over local files (``links.py``), a read-only statement's database
for the next one reading exactly the same files (``pool.py``) and Parquet
footers (``scanned.py``, and DuckDB's own metadata cache).

Deliberately not here: executions, states, result files and the workgroup's
bytes-scanned cutoff (the query service's), and SQL that only manages the
catalog (``SHOW``, ``DESCRIBE``, ``CREATE``, ``ALTER``, ``DROP``: ``ddl.py`` runs
those through the catalog's operations; views are expanded by ``views.py``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
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
from crispml.services.query.engines.duckdb import compressed, iceberg, readers, views
from crispml.services.query.engines.duckdb.access import LakeAccess
from crispml.services.query.engines.duckdb.errors import translate
from crispml.services.query.engines.duckdb.links import LinkTrees
from crispml.services.query.engines.duckdb.pool import DatabasePool, Sealed
from crispml.services.query.engines.duckdb.resolve import Column, TableRef, lookup, names, time_travel
from crispml.services.query.engines.duckdb.rewrite import alias_of, output_name, pruning_conjuncts, render
from crispml.services.query.engines.duckdb.scan import PRUNE_ALIAS, DataFile, Scan, plan_external
from crispml.services.query.engines.duckdb.scanned import Footers, scanned_bytes
from crispml.services.query.engines.duckdb.seal import open_database, seal, sealed_database
from crispml.services.query.engines.duckdb.sql import Statement, engine_syntax_error, parse, table_references
from crispml.services.query.engines.duckdb.types import athena_column, athena_relation

if TYPE_CHECKING:
    from crispml.services.catalog.service import Table
    from crispml.services.query.engines.duckdb.ddl import DdlQuery

#: How often the cancellation callback is polled while DuckDB runs (seconds).
POLL_SECONDS = 0.05
#: Rows per streamed record batch.
BATCH_ROWS = 64 * 1024
#: Memory one statement's database may use (DuckDB spills what exceeds it to the statement's scratch folder where
#: it can; a statement that still needs more ends FAILED with LimitExceeded).
MEMORY_LIMIT = "50%"
#: Settings of every database the engine opens: Trino's 5 / 2 is 2 (DuckDB's is 2.5 by default); Parquet footers
#: are kept once read (a statement binds and then reads its files, and a pooled database's next statement reads
#: the same ones: blobs never change once written, and DuckDB reads a file again if its modification time moved).
SETTINGS: tuple[str, ...] = ("SET GLOBAL integer_division = true", "SET GLOBAL parquet_metadata_cache = true")


#: How many texts DuckDB's parser accepted are remembered (then forgotten all at once).
PARSED_KEPT = 1024


class DuckDBEngine:
    """Athena SQL on DuckDB (the ``QueryEngine`` of ``engines/base.py``).

    ``threads`` and ``memory_limit`` bound each execution's DuckDB
    database (default: all cores, and :data:`MEMORY_LIMIT` per statement that
    reads files; the statements that read none share one database and its limit).
    """

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None,
                 batch_rows: int = BATCH_ROWS) -> None:
        self.config: dict[str, Any] = {"memory_limit": memory_limit or MEMORY_LIMIT}
        if threads is not None:
            self.config["threads"] = threads
        self.batch_rows = batch_rows
        self._database: duckdb.DuckDBPyConnection | None = None
        self._parser: duckdb.DuckDBPyConnection | None = None  # a database of its own, only for parsing
        self._spare: duckdb.DuckDBPyConnection | None = None  # opened ahead for the next statement reading files
        self._spare_opening = False
        self._parsed: set[str] = set()  # texts DuckDB's parser accepted (parse_check)
        self._lock = threading.Lock()
        #: Hive-style link trees over local files, shared by statements reading the same files (``links.py``).
        self.links = LinkTrees()
        #: Idle databases sealed to exactly one statement's files, for the next one reading them (``pool.py``).
        self.pool = DatabasePool(self._fresh_database, SETTINGS)
        #: Parquet footers of local files, read once (``scanned.py``).
        self.footers = Footers()

    def connection(self, *, isolated: bool = False, paths: Sequence[str] = (),
                   scratch: str | None = None) -> duckdb.DuckDBPyConnection:
        """A sealed DuckDB connection for one execution (``seal.py``).

        A statement that reads no file runs on a cursor of one shared in-memory database that can reach no
        file at all (opening a database costs ~15 ms, a cursor ~0.02 ms). One that reads or writes files
        gets a database of its own (``isolated``, ``paths`` or ``scratch`` given) that can reach exactly
        ``paths`` and its ``scratch`` folder (where it writes, and spills what exceeds its memory limit) —
        DuckDB's allowed paths are per database and cannot change once external access is off — with its
        own ``memory_limit``; a filesystem registered to act as the caller is private to it too (DuckDB
        registers those per database). A read-only statement over local files takes its database from
        :attr:`pool` instead (``DuckDBQuery._connect``).
        """
        if isolated or paths or scratch:
            settings: tuple[str, ...] = SETTINGS
            if scratch is not None:
                spill = os.path.join(scratch, "spill").replace("'", "''")
                settings = (*SETTINGS, f"SET temp_directory = '{spill}'")
            if isolated:
                # DuckDB's Parquet prefetching reads a Python filesystem's file (the lake's, on an s3:// lake)
                # from two places at once through one handle, as a seek and then a read: interleaved, they
                # read the wrong bytes ("TProtocolException: Invalid data", short reads) in about one query
                # in ten of a file of several row groups
                settings = (*settings, "SET GLOBAL disable_parquet_prefetching = true")
            return seal(self._fresh_database(), paths=paths, directories=[scratch] if scratch else (),
                        settings=settings)
        with self._lock:
            if self._database is None:
                self._database = sealed_database({**self.config, "temp_directory": ""}, settings=SETTINGS)
            return self._database.cursor()

    def _fresh_database(self) -> duckdb.DuckDBPyConnection:
        """A database no statement has used: the spare one opened ahead of time (opening one takes ~15 ms,
        which a statement that reads files would otherwise wait for), else a new one."""
        with self._lock:
            con, self._spare = self._spare, None
        return con if con is not None else open_database(self.config)

    def replenish(self) -> None:
        """Open the next spare database on a helper thread, if none is there or opening: called when a
        statement has finished with its database, so the opening does not take a core from a running one."""
        with self._lock:
            if self._spare is not None or self._spare_opening:
                return
            self._spare_opening = True
        # not a daemon: a thread torn down inside DuckDB's C++ when the interpreter exits aborts it
        threading.Thread(target=self._open_spare, name="query-spare-database").start()

    def _open_spare(self) -> None:
        con: duckdb.DuckDBPyConnection | None = None
        try:
            con = open_database(self.config)
        finally:
            with self._lock:
                self._spare_opening = False
                if self._spare is None:
                    self._spare, con = con, None
        if con is not None:
            con.close()

    def parse_check(self, sql: str) -> None:
        """Parse ``sql`` with DuckDB's parser (raises ``duckdb.ParserException``); runs nothing. A text that
        parsed once is not parsed again (parsing is a function of the text alone)."""
        if sql in self._parsed:
            return
        with self._lock:
            if self._parser is None:
                self._parser = sealed_database(dict(self.config))
            self._parser.extract_statements(sql)
            if len(self._parsed) >= PARSED_KEPT:
                self._parsed.clear()
            self._parsed.add(sql)

    def close(self) -> None:
        """Close the shared databases and remove the link trees (executions still streaming rows fail; new
        ones open them again)."""
        with self._lock:
            databases = [d for d in (self._database, self._parser, self._spare) if d is not None]
            self._database = self._parser = self._spare = None
        for database in databases:
            database.close()
        self.pool.close()
        self.links.close()

    def prepare(self, caller: Caller, sql: str, database: str | None, *, output_location: str | None,
                query_execution_id: str) -> DuckDBQuery | DdlQuery:
        """Parse ``sql`` and resolve its tables as ``caller``; read no data (see ``engines/base.py``)."""
        statement = parse(sql)
        if statement.ddl is not None:  # the catalog's statements (ddl.py)
            from crispml.services.query.engines.duckdb.ddl import prepare_ddl

            return prepare_ddl(self, caller, statement, database, output_location=output_location,
                               query_execution_id=query_execution_id)
        target = _target(statement)
        if target is not None and statement.substatement_type in ("INSERT", "DELETE", "UPDATE", "MERGE",
                                                                  "OPTIMIZE", "VACUUM"):
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
    """The table a CTAS, INSERT, DELETE, UPDATE, MERGE, OPTIMIZE or VACUUM writes."""
    from crispml.services.query.engines.duckdb import dml

    if statement.substatement_type in dml.KINDS:
        found = dml.target_of(statement)
        if found is None:
            raise InvalidArgument(f"{statement.substatement_type} needs a table name, e.g. db.table")
        return found
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
        self._access: LakeAccess | None = None
        self._paths: list[list[list[str]]] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._rendered: tuple[tuple[int, tuple[str, ...]], str] | None = None
        self.sql: str | None = None  # the DuckDB SQL execute() ran
        self._interrupted = threading.Event()
        self._own_database = False  # execute() opened a database for this statement alone
        self._sealed: Sealed | None = None  # the pool's database execute() runs on, given back at the end

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
        """List the files every table reference reads, after partition pruning, and authorize reading them
        as the caller; read only Parquet footers (the bytes scanned are the column chunks read)."""
        # DuckDB evaluates the partition predicates; a statement with none needs no connection
        con = self.engine.connection() if any(ref.prune for ref in self.refs) else None
        try:
            scans = [iceberg.plan(self.caller, ref, con) if ref.is_iceberg else plan_external(self.caller, ref, con)
                     for ref in self.refs]
        finally:
            if con is not None:
                con.close()
        self.scans = scans
        # every read is authorized here, before the workgroup's cutoff: Parquet footers say what is scanned
        self._access = LakeAccess(self.caller, self.engine.links)
        self._paths = self._access.paths_of(scans)
        tree = self.write.source_tree() if self.write is not None else self.statement.tree
        scanned = [scanned_bytes(self.caller, scan, paths, tree, self.engine.footers)
                   for scan, paths in zip(scans, self._paths, strict=True)]
        tables = list(dict.fromkeys(s.ref.qualified for s in scans))
        return ExecutionPlan(data_scanned_bytes=sum(scanned),
                             files=[f.uri for s in scans for f in s.files], tables=tables)

    # -- execute -----------------------------------------------------------------

    def execute(self, plan: ExecutionPlan, cancelled: Callable[[], bool]) -> EngineResult:
        """Run the statement and stream its rows; see ``engines/base.py``."""
        if self.scans is None:
            plan = self.plan()
        assert self.scans is not None
        if cancelled() or self._interrupted.is_set():
            raise QueryCancelled("the query was cancelled before it started")
        access, paths = self._access, self._paths
        assert access is not None and paths is not None, "plan() authorized the reads"
        try:
            layouts = self.lay_out(access, paths)
        except BaseException as exc:
            access.close()
            raise self._failure(exc, access) from exc
        con = self._connect(access)
        self._con = con
        stop = _CancelWatch(cancelled, self.interrupt)
        try:
            if self._interrupted.is_set():
                raise QueryCancelled("the query was cancelled")
            sql = self.sql = self.define_views(con, paths, layouts, inline=True)
            if self.write is not None:
                result: EngineResult = self.write.run(con, access, sql, plan)
                self._release(con, stop, access)
                return result
            relation, _ = athena_relation(con, sql)
            columns = [athena_column(output_name(n, i), t)
                       for i, (n, t) in enumerate(zip(relation.columns, relation.types, strict=True))]
            reader = relation.to_arrow_reader(self.engine.batch_rows)
        except BaseException as exc:
            self._release(con, stop, access)
            raise self._failure(exc, access) from exc
        batches = pa.RecordBatchReader.from_batches(reader.schema, self._stream(reader, con, stop, access))
        return EngineResult(columns=columns, batches=batches, plan=plan)

    def _connect(self, access: LakeAccess) -> duckdb.DuckDBPyConnection:
        """The statement's sealed connection: a cursor of a pooled database sealed to exactly its files when it
        only reads local files (``pool.py``), else a database of its own (or the shared one, reading none)."""
        reads = access.allowed()
        try:
            if self.write is None and reads and not access.needs_filesystem and not access.has_scratch:
                self._sealed, self._own_database = self.engine.pool.take(reads)
                return self._sealed.con.cursor()
            scratch = access.scratch() if reads or self.write is not None else None
            con = self.engine.connection(isolated=access.needs_filesystem, paths=reads, scratch=scratch)
            self._own_database = access.needs_filesystem or bool(reads) or scratch is not None
            if access.needs_filesystem:
                access.register(con)
            return con
        except BaseException:
            access.close()
            raise

    def lay_out(self, access: LakeAccess, paths: list[list[list[str]]]) -> list[Laid]:
        """Per table reference, where DuckDB reads its files: each partition's (path, lake key) pairs, and
        links to them laid out as Hive folders when they are all local (shared with other statements,
        ``links.py``; None for an Iceberg scan or files read through ``lake://``). Compressed text DuckDB
        cannot read is decompressed here. Runs before the statement's database is opened: it is sealed to
        these paths."""
        assert self.scans is not None
        laid: list[Laid] = []
        for scan, scan_paths in zip(self.scans, paths, strict=True):
            named: list[list[tuple[str, str]]] = []
            if scan.iceberg is None and scan.parts:
                if scan.ref.table.format in ("csv", "json"):  # compressed files DuckDB cannot read: decompressed
                    named = compressed.text_files(self.caller, access, scan, scan_paths)
                else:
                    named = [[(path, f.key) for path, f in zip(part_paths, part.files, strict=True)]
                             for part, part_paths in zip(scan.parts, scan_paths, strict=True)]
            local = bool(named) and all(access.is_local(p) for part in named for p, _ in part)
            laid.append((named, access.link([k.name for k in scan.ref.keys], [
                (part.values, files) for part, files in zip(scan.parts, named, strict=True)]) if local else None))
        return laid

    def define_views(self, con: duckdb.DuckDBPyConnection, paths: list[list[list[str]]], laid: list[Laid], *,
                     inline: bool = False) -> str:
        """One view per table reference over its files (``paths``, laid out by :meth:`lay_out`); the statement
        rewritten onto them. With ``inline``, a SELECT reads each table's files in a subquery in its place
        instead: DuckDB then binds the reader once, not once for the view and again for the statement
        (the statement's own text never holds the view's quoted name, or the view is kept)."""
        assert self.scans is not None
        views: list[str] = []
        inlined: dict[str, str] = {}
        for position, (scan, scan_paths, (named, linked)) in enumerate(zip(self.scans, paths, laid, strict=True)):
            view = _view(position)
            scan_sql = (iceberg.scan_sql(con, scan, [p for part in scan_paths for p in part], view)
                        if scan.iceberg is not None else self._scan_sql(con, scan, named, linked))
            if inline and self.write is None and scan.ref.node is not None:
                inlined[view] = scan_sql
            else:
                con.execute(f"CREATE TEMP VIEW {readers.quote_ident(view)} AS {scan_sql}")
            views.append(view)
        tree = self.write.source_tree() if self.write is not None else self.statement.tree
        if tree is None:
            return ""
        sql = self._render(tree, views)
        for view, scan_sql in inlined.items():
            quoted = readers.quote_ident(view)
            if sql.count(quoted) == 1:
                sql = sql.replace(quoted, f"({scan_sql})")
            else:  # the statement spells the name too (in a string, say): read through a view after all
                con.execute(f"CREATE TEMP VIEW {quoted} AS {scan_sql}")
        return sql

    def _scan_sql(self, con: duckdb.DuckDBPyConnection, scan: Scan, named: list[list[tuple[str, str]]],
                  linked: list[str] | None) -> str:
        """The SELECT over one table reference's files: one reader over its Hive-style links when every file is
        local, else a UNION ALL of one reader per partition with its key values as constants."""
        ref = scan.ref
        columns, keys = ref.columns, ref.keys
        if not scan.parts:
            return readers.empty(columns + keys)
        if linked is not None:
            return self._reader(con, ref, linked, keys, scan.files)
        selects = [readers.with_keys(self._reader(con, ref, [p for p, _ in files], None, part.files), keys,
                                     part.values) for part, files in zip(scan.parts, named, strict=True)]
        return " UNION ALL ".join(selects)

    @staticmethod
    def _reader(con: duckdb.DuckDBPyConnection, ref: TableRef, paths: list[str], keys: list[Column] | None,
                files: list[DataFile]) -> str:
        fmt = ref.table.format
        if fmt == "parquet":  # columns none of the files hold (added after they were written) are NULL
            known = [f.columns for f in files if f.columns is not None]
            present = set().union(*known) if len(known) == len(files) else None
            schemas = {f.schema for f in files}
            return readers.read_parquet(paths, ref.columns, keys, present,
                                        one_schema=len(schemas) == 1 and None not in schemas)
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
            self._release(con, stop, access)

    def _release(self, con: duckdb.DuckDBPyConnection, stop: _CancelWatch, access: LakeAccess) -> None:
        """Close the statement's connection (a pooled database goes back to the pool); if it opened a
        database, have the next one opened."""
        _close(con, stop, access)
        sealed, self._sealed = self._sealed, None
        if sealed is not None:
            self.engine.pool.give_back(sealed)
        if self._own_database:
            self.engine.replenish()

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


#: Where DuckDB reads one table reference's files: each partition's (path, lake key) pairs, and the Hive-style
#: links to them when one reader reads them all (``DuckDBQuery.lay_out``).
Laid = tuple[list[list[tuple[str, str]]], list[str] | None]


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
