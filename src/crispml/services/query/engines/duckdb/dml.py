"""Row-level DML on managed (Iceberg) tables: UPDATE, MERGE INTO, OPTIMIZE … REWRITE DATA USING BIN_PACK, VACUUM.

Each statement is one Iceberg commit, copy-on-write at file level as Athena
writes Iceberg tables: DuckDB reads the target's data files with each row's
file name, computes the changed rows in one pass (``UPDATE``'s ``CASE WHEN
<where> THEN <new value> ELSE <old value> END``; ``MERGE``'s full outer join of
target and source with the first matching ``WHEN`` clause per row), and the
files that hold a changed row are replaced by new files with their new
contents through the catalog's ``RewriteTableData`` — one ``overwrite``
snapshot, committed only if the table is still at the snapshot the statement
read (otherwise ConcurrentModificationException, and nothing changes).

- ``UPDATE t SET c = e [, …] [WHERE cond]`` reports the rows it changed.
- ``MERGE INTO t [AS a] USING s [AS b] ON cond WHEN MATCHED [AND c] THEN UPDATE
  SET … | DELETE … WHEN NOT MATCHED [AND c] THEN INSERT [(cols)] VALUES (…)``
  reports the rows it inserted, updated or deleted. A target row matched by
  more than one source row is refused, as Trino refuses it.
- ``OPTIMIZE t REWRITE DATA USING BIN_PACK [WHERE cond]`` rewrites, partition by
  partition, the files holding rows that match ``cond`` into as few files as
  the table's target file size allows (``replace`` snapshot: no row changes);
  it reports the rows rewritten. A partition with one file is left alone.
- ``VACUUM t`` expires snapshots older than the table property
  ``vacuum_max_snapshot_age_seconds`` (default 432000, five days, as Athena),
  keeping ``vacuum_min_snapshots_to_keep`` (default 1), and deletes the files
  no kept snapshot references (``ExpireTableSnapshots``).

External tables have no row-level changes (Athena's rule): UPDATE, MERGE,
OPTIMIZE and VACUUM on one fail with InvalidArgument at submission. Written by
hand because neither DuckDB nor pyiceberg runs MERGE or UPDATE on an Iceberg
table: pyiceberg takes a filter expression and whole rows, not SQL over rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
from sqlglot import exp

import duckdb
from crispml.core.errors import CrispmlError, InvalidArgument
from crispml.services.catalog.service import ExpireTableSnapshotsRequest, RewriteTableDataRequest
from crispml.services.query.engines.base import Caller, QueryFailed
from crispml.services.query.engines.duckdb.errors import error_type
from crispml.services.query.engines.duckdb.readers import path_list, quote_ident
from crispml.services.query.engines.duckdb.resolve import TableRef
from crispml.services.query.engines.duckdb.rewrite import render
from crispml.services.query.engines.duckdb.sql import DIALECT, Statement
from crispml.services.query.engines.duckdb.types import duckdb_type

if TYPE_CHECKING:
    from crispml.services.query.engines.duckdb.access import LakeAccess
    from crispml.services.query.engines.duckdb.engine import DuckDBQuery
    from crispml.services.query.engines.duckdb.scan import Scan

#: The statements of this module (Athena's substatement types).
KINDS = ("UPDATE", "MERGE", "OPTIMIZE", "VACUUM")
#: Athena's VACUUM defaults (table properties of the same names change them).
MAX_SNAPSHOT_AGE_SECONDS = 432000
MIN_SNAPSHOTS_TO_KEEP = 1
_TARGET = "__dml_target"
_CHANGED = "__dml_rows"
_OPTIMIZE = re.compile(
    r"^\s*OPTIMIZE\s+(?P<table>.+?)\s+REWRITE\s+DATA\s+USING\s+BIN_PACK(?:\s+WHERE\s+(?P<where>.+))?\s*$",
    re.IGNORECASE | re.DOTALL)
_VACUUM = re.compile(r"^\s*VACUUM\s+(?P<table>\S+)\s*$", re.IGNORECASE | re.DOTALL)


def classify_command(tree: exp.Command) -> Statement | None:
    """``OPTIMIZE`` and ``VACUUM`` (which sqlglot reads as commands) as statements; None for other commands.
    Their table is ``properties['table']``, OPTIMIZE's condition ``properties['where']``."""
    name = str(tree.this).upper()
    text = f"{name} {tree.expression.name if isinstance(tree.expression, exp.Literal) else ''}"
    if name == "OPTIMIZE":
        match = _OPTIMIZE.match(text)
        if match is None:
            raise InvalidArgument("OPTIMIZE takes the form OPTIMIZE [db.]table REWRITE DATA USING BIN_PACK "
                                  "[WHERE predicate]")
        where = _parse(match.group("where"), "OPTIMIZE's WHERE") if match.group("where") else None
        return Statement(tree, "DML", "OPTIMIZE", {"table": _table(match.group("table"), name), "where": where})
    if name == "VACUUM":
        match = _VACUUM.match(text)
        if match is None:
            raise InvalidArgument("VACUUM takes the form VACUUM [db.]table")
        return Statement(tree, "DML", "VACUUM", {"table": _table(match.group("table"), name)})
    return None


def _parse(text: str, what: str) -> exp.Expr:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        parsed = sqlglot.parse_one(f"SELECT 1 WHERE {text}", read=DIALECT)
    except (ParseError, TokenError) as exc:
        raise InvalidArgument(f"{what} cannot be read: {str(exc).splitlines()[0]}") from None
    where = normalize_identifiers(parsed, dialect=DIALECT).args.get("where")
    assert where is not None
    condition: exp.Expr = where.this
    return condition


def _table(text: str, statement: str) -> exp.Table:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        table = sqlglot.parse_one(text, read=DIALECT, into=exp.Table)
    except (ParseError, TokenError):
        table = None
    if not isinstance(table, exp.Table) or not table.name:
        raise InvalidArgument(f"{statement} needs a table name, e.g. {statement} db.table, not {text!r}")
    normalized: exp.Table = normalize_identifiers(table, dialect=DIALECT)
    return normalized


def target_of(statement: Statement) -> exp.Table | None:
    """The table a DML statement of this module changes."""
    if statement.substatement_type in ("OPTIMIZE", "VACUUM"):
        table = statement.properties["table"]
        assert isinstance(table, exp.Table)
        return table
    node = statement.tree.this
    return node if isinstance(node, exp.Table) else None


def check_target(kind: str, ref: TableRef) -> None:
    """Only Iceberg tables take row-level changes (checked when the statement is submitted)."""
    if not ref.is_iceberg:
        raise InvalidArgument(
            f"{kind} {ref.qualified}: {kind} needs an Iceberg table (table_type=ICEBERG), and {ref.qualified} is an "
            "external table over files; write a new table with CREATE TABLE … WITH (table_type='ICEBERG') AS "
            "SELECT, or change its files in the lake")


@dataclass
class Change:
    """What one statement changes: data files to remove, rows to add in their place, rows it reports."""

    delete_files: list[str]
    body: pa.Table | None
    reported: int
    operation: Literal["overwrite", "replace"] = "overwrite"


class RowChanges:
    """One UPDATE / MERGE / OPTIMIZE / VACUUM, run on the connection whose views the engine defined."""

    def __init__(self, query: DuckDBQuery, kind: str, target: TableRef) -> None:
        self.query = query
        self.kind = kind
        self.target = target
        self._uris: dict[str, str] = {}

    @property
    def caller(self) -> Caller:
        return self.query.caller

    def run(self, con: duckdb.DuckDBPyConnection, access: LakeAccess) -> int:
        if self.kind == "VACUUM":
            return self._vacuum()
        scan = self._scan()
        self._define_target(con, access, scan)
        if self.kind == "UPDATE":
            change = self._update(con)
        elif self.kind == "MERGE":
            change = self._merge(con)
        else:
            change = self._optimize(con, scan)
        if change.delete_files or (change.body is not None and change.body.num_rows):
            assert scan.iceberg is not None
            caller = self.caller
            try:
                caller.catalog.rewrite_table_data(caller.ctx, RewriteTableDataRequest(
                    database_name=self.target.database, table_name=self.target.name,
                    snapshot_id=scan.iceberg.snapshot_id, delete_files=change.delete_files, body=change.body,
                    operation=change.operation))
            except CrispmlError as exc:
                raise QueryFailed(f"{self.kind} {self.target.qualified}: {exc.message}", error_type(exc)) from exc
        return change.reported

    # -- the target's rows, with the file each comes from --------------------------------------

    def _scan(self) -> Scan:
        scans = self.query.scans
        assert scans is not None
        position = self.query.refs.index(self.target)
        return scans[position]

    def _define_target(self, con: duckdb.DuckDBPyConnection, access: LakeAccess, scan: Scan) -> None:
        planned = scan.iceberg
        assert planned is not None
        if planned.has_deletes:
            raise QueryFailed(
                f"{self.kind} {self.target.qualified}: the table has merge-on-read delete files, which this engine "
                "does not rewrite; it writes copy-on-write only", "InvalidArgument")
        names = ", ".join(quote_ident(f.name) for f in planned.arrow_schema)
        by_uri = {uri: path for path, uri in access.paths.items()}
        paths = [by_uri.get(f.uri, f.uri) for part in scan.parts for f in part.files]
        if not paths:
            empty = planned.arrow_schema.empty_table()
            con.register("__dml_empty", empty)
            con.execute(f"CREATE TEMP VIEW {_TARGET} AS SELECT {names}, CAST(NULL AS VARCHAR) AS __file, "
                        "CAST(NULL AS BIGINT) AS __pos FROM __dml_empty")
            return
        con.execute(f"CREATE TEMP VIEW {_TARGET} AS SELECT {names}, filename AS __file, file_row_number AS __pos "
                    f"FROM read_parquet({path_list(paths)}, union_by_name=true, filename=true, "
                    "file_row_number=true)")
        self._uris = dict(access.paths)

    def _uri(self, path: str) -> str:
        """The lake URI of a file DuckDB read (its ``filename``)."""
        return self._uris.get(path, path)

    def _columns(self) -> list[tuple[str, str]]:
        """The target's columns (partition keys included) with their DuckDB types."""
        ref = self.target
        own = {c.name for c in ref.columns}
        return [(c.name, duckdb_type(c.hive_type)) for c in ref.columns + [k for k in ref.keys if k.name not in own]]

    def _sql(self, node: exp.Expr) -> str:
        """DuckDB SQL of a part of the statement, its table references replaced by their views."""
        inside = {id(t) for t in node.find_all(exp.Table)}
        if isinstance(node, exp.Table):  # a table alone (MERGE's USING): its view under its name
            position = next((i for i, r in enumerate(self.query.refs) if r.node is node), None)
            if position is not None:
                return f"{quote_ident(f'__scan_{position}')} AS {quote_ident(node.alias_or_name)}"
        pairs = [(r, f"__scan_{i}") for i, r in enumerate(self.query.refs)
                 if r.node is not None and id(r.node) in inside]
        return render(node, [r for r, _ in pairs], [v for _, v in pairs], outermost=False)

    def _body(self, con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
        table: pa.Table = con.sql(sql).to_arrow_table()
        return table

    # -- UPDATE --------------------------------------------------------------------------------

    def _update(self, con: duckdb.DuckDBPyConnection) -> Change:
        tree = self.query.statement.tree
        columns = self._columns()
        known = {n for n, _ in columns}
        assigned: dict[str, exp.Expr] = {}
        for assignment in tree.expressions:
            if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
                raise QueryFailed(f"UPDATE {self.target.qualified}: SET takes column = value pairs",
                                  "InvalidArgument")
            name = assignment.this.name.lower()
            if name not in known:
                raise QueryFailed(f"UPDATE {self.target.qualified}: the table has no column {name!r} (columns: "
                                  f"{', '.join(n for n, _ in columns)})", "InvalidArgument")
            if name in assigned:
                raise QueryFailed(f"UPDATE {self.target.qualified}: column {name!r} is set twice", "InvalidArgument")
            if name in {k.name for k in self.target.keys}:
                raise QueryFailed(f"UPDATE {self.target.qualified}: {name!r} is a partition column; Iceberg "
                                  "partition values cannot be updated in place: DELETE and INSERT the rows",
                                  "InvalidArgument")
            assigned[name] = assignment.expression
        where = tree.args.get("where")
        condition = self._sql(where.this) if where is not None else "TRUE"
        alias = quote_ident(self.target.name)
        values = ", ".join(
            f"CASE WHEN __hit THEN CAST(({self._sql(assigned[n])}) AS {t}) ELSE {quote_ident(n)} END "
            f"AS {quote_ident(n)}" if n in assigned else quote_ident(n) for n, t in columns)
        con.execute(f"CREATE TEMP TABLE {_CHANGED} AS SELECT __file, __hit, {values} FROM (SELECT *, "
                    f"COALESCE(CAST(({condition}) AS BOOLEAN), false) AS __hit FROM {_TARGET} AS {alias}) AS {alias}")
        return self._replace(con, columns, "__hit", "TRUE")

    def _replace(self, con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]], counted: str,
                 keep: str, once: bool = False) -> Change:
        """The change: files with a counted row are replaced by their rows that ``keep``, plus new rows."""
        row = con.execute(f"SELECT count(*) FILTER (WHERE {counted}) FROM {_CHANGED}").fetchone()
        reported = int(row[0]) if row else 0
        files = [r[0] for r in con.execute(
            f"SELECT DISTINCT __file FROM {_CHANGED} WHERE {counted} AND __file IS NOT NULL").fetchall()]
        names = ", ".join(quote_ident(n) for n, _ in columns)
        con.execute("CREATE TEMP TABLE __dml_files (path VARCHAR)")
        if files:
            con.executemany("INSERT INTO __dml_files VALUES (?)", [[f] for f in files])
        body = self._body(con, f"SELECT {names} FROM {_CHANGED} WHERE ({keep}) AND (__file IS NULL OR __file IN "
                               "(SELECT path FROM __dml_files))"
                               + (" QUALIFY __file IS NULL OR row_number() OVER (PARTITION BY __file, __pos) = 1"
                                  if once else ""))
        return Change([self._uri(f) for f in files], body, reported)

    # -- MERGE ---------------------------------------------------------------------------------

    def _merge(self, con: duckdb.DuckDBPyConnection) -> Change:
        tree = self.query.statement.tree
        columns = self._columns()
        known = [n for n, _ in columns]
        target_alias = quote_ident(tree.this.alias_or_name)
        using = tree.args.get("using")
        assert using is not None
        source_alias = quote_ident(using.alias_or_name)
        whens = tree.args.get("whens")
        clauses = list(whens.expressions) if whens is not None else []
        if not clauses:
            raise QueryFailed("MERGE needs at least one WHEN clause", "InvalidArgument")
        matched: list[str] = []
        unmatched: list[str] = []
        values: dict[str, list[str]] = {n: [] for n in known}
        kinds: dict[int, str] = {}
        for number, when in enumerate(clauses, 1):
            if when.args.get("source"):
                raise QueryFailed("MERGE: WHEN NOT MATCHED BY SOURCE is not Athena SQL; use WHEN MATCHED / "
                                  "WHEN NOT MATCHED", "InvalidArgument")
            condition = when.args.get("condition")
            test = f"COALESCE(CAST(({self._sql(condition)}) AS BOOLEAN), false)" if condition is not None else "TRUE"
            then = when.args.get("then")
            if when.args.get("matched"):
                matched.append(f"WHEN {test} THEN {number}")
                kinds[number] = self._matched_action(then, number, columns, values)
            else:
                unmatched.append(f"WHEN {test} THEN {number}")
                kinds[number] = "INSERT"
                self._insert_values(then, number, columns, values)
        # the first WHEN clause that applies to each joined row (NULL: none; the row is kept as it is)
        action = (f"CASE WHEN {target_alias}.__file IS NOT NULL AND {source_alias}.__src THEN CASE "
                  + " ".join(matched or ["WHEN FALSE THEN 0"])
                  + f" END WHEN {target_alias}.__file IS NULL THEN CASE "
                  + " ".join(unmatched or ["WHEN FALSE THEN 0"]) + " END END")
        outputs = []
        for (name, kind), cases in zip(columns, values.values(), strict=True):
            own = f"{target_alias}.{quote_ident(name)}"
            expression = f"CASE __action {' '.join(cases)} ELSE {own} END" if cases else own
            outputs.append(f"CAST({expression} AS {kind}) AS {quote_ident(name)}")
        source = self._sql(using)
        con.execute(
            f"CREATE TEMP TABLE {_CHANGED} AS SELECT {target_alias}.__file AS __file, {target_alias}.__pos AS __pos, "
            f"{action} AS __action, {', '.join(outputs)} FROM {_TARGET} AS {target_alias} FULL OUTER JOIN "
            f"(SELECT *, TRUE AS __src FROM {source}) AS {source_alias} ON ({self._sql(tree.args['on'])})")
        twice = con.execute(
            f"SELECT __file, __pos FROM {_CHANGED} WHERE __file IS NOT NULL GROUP BY __file, __pos "
            "HAVING count(*) > 1 AND count(__action) > 0 LIMIT 1").fetchone()
        if twice is not None:
            raise QueryFailed(f"MERGE INTO {self.target.qualified}: one target table row matched more than one source "
                              "row; make the ON condition match at most one source row per target row",
                              "InvalidArgument")
        deletes = [n for n, k in kinds.items() if k == "DELETE"]
        dropped = f"__action IN ({', '.join(map(str, deletes))})" if deletes else "FALSE"
        # kept: target rows not deleted (once each, however many source rows they met), and inserted rows
        keep = f"(__file IS NOT NULL OR __action IS NOT NULL) AND NOT COALESCE({dropped}, false)"
        return self._replace(con, columns, "__action IS NOT NULL", keep, once=True)

    def _matched_action(self, then: exp.Expr, number: int, columns: list[tuple[str, str]],
                        values: dict[str, list[str]]) -> str:
        if isinstance(then, exp.Var) and then.name.upper() == "DELETE":
            return "DELETE"
        if not isinstance(then, exp.Update):
            raise QueryFailed("MERGE: WHEN MATCHED THEN takes UPDATE SET … or DELETE", "InvalidArgument")
        keys = {k.name for k in self.target.keys}
        for assignment in then.expressions:
            if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
                raise QueryFailed("MERGE: UPDATE SET takes column = value pairs", "InvalidArgument")
            name = assignment.this.name.lower()
            if name not in values:
                raise QueryFailed(f"MERGE INTO {self.target.qualified}: the table has no column {name!r} (columns: "
                                  f"{', '.join(n for n, _ in columns)})", "InvalidArgument")
            if name in keys:
                raise QueryFailed(f"MERGE INTO {self.target.qualified}: {name!r} is a partition column and cannot "
                                  "be updated in place", "InvalidArgument")
            values[name].append(f"WHEN {number} THEN ({self._sql(assignment.expression)})")
        return "UPDATE"

    def _insert_values(self, then: exp.Expr, number: int, columns: list[tuple[str, str]],
                       values: dict[str, list[str]]) -> None:
        if not isinstance(then, exp.Insert):
            raise QueryFailed("MERGE: WHEN NOT MATCHED THEN takes INSERT [(columns)] VALUES (…)", "InvalidArgument")
        listed = then.this
        given = then.expression
        exprs = list(given.expressions) if isinstance(given, exp.Tuple) else [given] if given is not None else []
        names = ([c.name.lower() for c in listed.expressions] if isinstance(listed, exp.Tuple)
                 else [n for n, _ in columns])
        if len(names) != len(exprs):
            raise QueryFailed(f"MERGE INTO {self.target.qualified}: INSERT gives {len(exprs)} values for "
                              f"{len(names)} columns ({', '.join(names)})", "InvalidArgument")
        for name, expression in zip(names, exprs, strict=True):
            if name not in values:
                raise QueryFailed(f"MERGE INTO {self.target.qualified}: the table has no column {name!r} (columns: "
                                  f"{', '.join(n for n, _ in columns)})", "InvalidArgument")
            values[name].append(f"WHEN {number} THEN ({self._sql(expression)})")
        for name in values:
            if name not in names:
                values[name].append(f"WHEN {number} THEN NULL")

    # -- OPTIMIZE ------------------------------------------------------------------------------

    def _optimize(self, con: duckdb.DuckDBPyConnection, scan: Scan) -> Change:
        planned = scan.iceberg
        assert planned is not None
        where = self.query.statement.properties.get("where")
        condition = self._sql(where) if isinstance(where, exp.Expr) else "TRUE"
        alias = quote_ident(self.target.name)
        candidates = {r[0] for r in con.execute(
            f"SELECT DISTINCT __file FROM {_TARGET} AS {alias} WHERE COALESCE(CAST(({condition}) AS BOOLEAN), false)"
        ).fetchall()}
        uri_of = {f.uri: f for f in planned.files}
        groups: dict[tuple[tuple[str, str | None], ...], list[str]] = {}
        for path in candidates:
            found = uri_of.get(self._uri(path))
            key = tuple(sorted(found.partition.items())) if found is not None else ()
            groups.setdefault(key, []).append(path)
        chosen = [p for paths in groups.values() if len(paths) > 1 for p in paths]
        columns = self._columns()
        names = ", ".join(quote_ident(n) for n, _ in columns)
        con.execute("CREATE TEMP TABLE __dml_files (path VARCHAR)")
        if chosen:
            con.executemany("INSERT INTO __dml_files VALUES (?)", [[p] for p in chosen])
        body = self._body(con, f"SELECT {names} FROM {_TARGET} WHERE __file IN (SELECT path FROM __dml_files)")
        return Change([self._uri(p) for p in chosen], body, body.num_rows, "replace")

    # -- VACUUM --------------------------------------------------------------------------------

    def _vacuum(self) -> int:
        from datetime import timedelta

        parameters = self.target.table.parameters
        try:
            age = int(parameters.get("vacuum_max_snapshot_age_seconds", MAX_SNAPSHOT_AGE_SECONDS))
            keep = int(parameters.get("vacuum_min_snapshots_to_keep", MIN_SNAPSHOTS_TO_KEEP))
        except ValueError as exc:
            raise QueryFailed(f"VACUUM {self.target.qualified}: a vacuum_* table property is not a number: {exc}",
                              "InvalidArgument") from exc
        caller = self.caller
        now = caller.catalog.clock.now()
        try:
            caller.catalog.expire_table_snapshots(caller.ctx, ExpireTableSnapshotsRequest(
                database_name=self.target.database, table_name=self.target.name,
                older_than=now - timedelta(seconds=age), retain_last=max(1, keep)))
        except CrispmlError as exc:
            raise QueryFailed(f"VACUUM {self.target.qualified}: {exc.message}", error_type(exc)) from exc
        return 0
