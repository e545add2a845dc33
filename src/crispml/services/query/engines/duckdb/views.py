"""Views: ``CREATE [OR REPLACE] VIEW … AS SELECT``, stored in the catalog as Athena stores them in Glue,
and expanded where a statement reads them.

A view is a catalog table of ``TableType`` ``VIRTUAL_VIEW`` whose
``ViewOriginalText`` is ``/* Presto View: <base64 of JSON> */`` — the JSON
holding ``originalSql``, ``catalog``, ``schema`` (its database) and its
``columns`` with their Athena types — and whose ``ViewExpandedText`` is
``/* Presto View */``, as Athena writes them; its columns are also in the
storage descriptor, with Hive types. The column types come from binding the
query over empty relations of its tables' types: creating a view reads no data.

Reading one (:func:`expand`) replaces each reference to a view by its query,
in a subquery named as the reference was, its unqualified tables taken from the
view's database. The tables under it are then resolved and read as the caller
like any others, so a view grants nothing its reader could not read.
Deliberately not here: views of other engines' SQL (a ``ViewOriginalText``
that is not Athena's is read as plain SQL).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from crispml.core.errors import AlreadyExists, InvalidArgument, NotFound
from crispml.services.catalog.service import (
    CreateTableRequest,
    Table,
    TableInput,
    UpdateTableRequest,
)
from crispml.services.query.engines.base import Caller
from crispml.services.query.engines.duckdb import readers
from crispml.services.query.engines.duckdb.resolve import lookup, names, require_database, time_travel
from crispml.services.query.engines.duckdb.sql import DATA_CATALOG, DIALECT, parse, table_references
from crispml.services.query.engines.duckdb.types import athena_column, athena_relation, hive_type

if TYPE_CHECKING:
    from crispml.services.query.engines.duckdb.ddl import DdlQuery, Rows

_PREFIX = "/* Presto View: "
_SUFFIX = " */"
EXPANDED = "/* Presto View */"
#: How deep views may refer to views.
MAX_DEPTH = 32


def _target(query: DdlQuery) -> tuple[str, str]:
    tree = query.ddl.tree
    assert tree is not None
    node = tree.this
    if isinstance(node, exp.Schema):
        raise InvalidArgument("CREATE VIEW takes no column list; name the columns in the SELECT (… AS name)")
    if not isinstance(node, exp.Table):
        raise InvalidArgument("CREATE VIEW needs a name: CREATE VIEW db.name AS SELECT …")
    return names(node, query.database)


def check_create(query: DdlQuery) -> str:
    """The view's database; InvalidArgument for a statement that cannot make one."""
    database, name = _target(query)
    query.ddl.database, query.ddl.name = database, name
    return database


def create(query: DdlQuery) -> Rows:
    """Bind the view's query as the caller (its tables must exist and be readable in the catalog), then
    create or replace the view in the catalog."""
    tree = query.ddl.tree
    assert tree is not None and isinstance(tree.expression, exp.Query)
    caller = query.caller
    database, name = _target(query)
    require_database(caller, database)
    sql = tree.expression.sql(DIALECT)
    columns = _columns(query, sql, database)
    existing: Table | None
    try:
        existing = lookup(caller, database, name)
    except NotFound:
        existing = None
    if existing is not None and not existing.is_view:
        raise AlreadyExists(f"{database}.{name} is a table; a view needs a name of its own")
    if existing is not None and not tree.args.get("replace"):
        raise AlreadyExists(f"view {database}.{name} already exists; write CREATE OR REPLACE VIEW to change it")
    payload = {"originalSql": sql, "catalog": DATA_CATALOG, "schema": database,
               "columns": [{"name": n, "type": t} for n, t, _ in columns]}
    fields: dict[str, Any] = {
        "Name": name, "TableType": "VIRTUAL_VIEW", "Owner": caller.ctx.principal,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": h} for n, _, h in columns], "SerdeInfo": {}},
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": _PREFIX + base64.b64encode(json.dumps(payload).encode()).decode() + _SUFFIX,
        "ViewExpandedText": EXPANDED,
    }
    table_input = TableInput(**fields)
    if existing is None:
        caller.catalog.create_table(caller.ctx, CreateTableRequest(database_name=database, table_input=table_input))
    else:
        caller.catalog.update_table(caller.ctx, UpdateTableRequest(database_name=database, table_input=table_input))
    return [], []


def _columns(query: DdlQuery, sql: str, database: str) -> list[tuple[str, str, str]]:
    """(name, Athena type, Hive type) of each output column of the view's query."""
    from crispml.services.query.engines.duckdb.ddl import DdlQuery
    inner = query.engine.prepare(query.caller, sql, database, output_location=None,
                                 query_execution_id=f"{query.query_execution_id}-view")
    if isinstance(inner, DdlQuery) or inner.substatement_type != "SELECT":
        raise InvalidArgument("a view's query is a SELECT")
    con = query.engine.connection()
    try:
        for position, ref in enumerate(inner.refs):
            con.execute(f"CREATE TEMP VIEW {readers.quote_ident(f'__scan_{position}')} AS "
                        f"{readers.empty(ref.columns + ref.keys)}")
        rendered = inner._render(inner.statement.tree,  # the statement over the engine's views
                                 [f"__scan_{i}" for i in range(len(inner.refs))])
        relation, _ = athena_relation(con, rendered)
        found = [(n.lower(), athena_column(n, t).type, hive_type(t)) for n, t in zip(
            relation.columns, relation.types, strict=True)]
    finally:
        con.close()
    seen: set[str] = set()
    for column_name, _, _ in found:
        if column_name in seen:
            raise InvalidArgument(f"column {column_name!r} appears twice in the view's query; give each column "
                                  "its own name (AS …)")
        seen.add(column_name)
    return found


def view_sql(table: Table) -> tuple[str, str]:
    """(SQL, database its unqualified names are in) of a view."""
    text = (table.view_original_text or "").strip()
    if text.startswith(_PREFIX) and text.endswith(_SUFFIX):
        try:
            payload: Any = json.loads(base64.b64decode(text[len(_PREFIX):-len(_SUFFIX)].strip()))
            return str(payload["originalSql"]), str(payload.get("schema") or table.database_name)
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise InvalidArgument(f"view {table.database_name}.{table.name} has a ViewOriginalText that cannot be "
                                  "read; create it again with CREATE OR REPLACE VIEW") from None
    return text, table.database_name


def create_text(table: Table) -> str:
    """``SHOW CREATE VIEW``'s text."""
    sql, _ = view_sql(table)
    return f'CREATE VIEW "{table.database_name}"."{table.name}" AS\n{sql}'


def expand(caller: Caller, tree: exp.Expr, database: str | None, skip: exp.Table | None = None,
           chain: tuple[str, ...] = ()) -> dict[int, Table]:
    """Replace every view ``tree`` reads by its query (in place); the catalog tables found on the way,
    by ``id`` of their node, so that they are not looked up again."""
    known: dict[int, Table] = {}
    for node in table_references(tree):
        if node is skip:
            continue
        db, name = names(node, database)
        table = lookup(caller, db, name)
        if not table.is_view:
            known[id(node)] = table
            continue
        qualified = f"{db}.{name}"
        if time_travel(node) is not None:
            raise InvalidArgument(f"{qualified} is a view and has no snapshots; FOR … AS OF reads Iceberg tables")
        if qualified in chain or len(chain) >= MAX_DEPTH:
            raise InvalidArgument(f"view {qualified} refers to itself (through {' → '.join(chain)}); replace it")
        sql, schema = view_sql(table)
        body = parse(sql).tree
        if not isinstance(body, exp.Query):
            raise InvalidArgument(f"view {qualified} does not hold a query; replace it with CREATE OR REPLACE VIEW")
        for inner in table_references(body):
            if not inner.db:
                inner.set("db", exp.to_identifier(schema))
        known.update(expand(caller, body, schema, None, (*chain, qualified)))
        alias = node.alias or name
        node.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return known


def refuse_write(caller: Caller, target: exp.Table, database: str | None, what: str) -> None:
    """INSERT INTO / DELETE FROM a view: refused, naming it."""
    db, name = names(target, database)
    try:
        table = lookup(caller, db, name)
    except NotFound:
        return  # the write says what is missing
    if table.is_view:
        raise InvalidArgument(f"{db}.{name} is a view; {what} writes tables")
