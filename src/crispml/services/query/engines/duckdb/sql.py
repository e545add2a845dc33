"""Reading a statement: Athena SQL parsed with sqlglot, classified, and checked.

sqlglot's ``athena`` dialect reads Trino DML and Hive DDL (CTAS ``WITH (...)``,
``FOR VERSION AS OF``), so a statement written for Athena is parsed here once
and rendered for DuckDB later, after its tables have been replaced by scans. A
syntax error becomes :class:`InvalidArgument` with Athena's ``line L:C:``
prefix. Deliberately not here: catalog lookups (``resolve.py``) and anything
that reads data.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
import sqlglot.dialects.athena  # imported whole, here: see DIALECT
import sqlglot.dialects.duckdb
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from crispml.core.errors import InvalidArgument
from crispml.services.query.engines.base import StatementType
from crispml.services.query.engines.duckdb import seal

#: The dialect modules read and written are imported above, whole: sqlglot otherwise loads a dialect on first
#: use and registers its class before the module has run to the end, so two threads reading Athena SQL for the
#: first time at once could get the class while a helper it needs is still undefined
#: (``NameError: name '_TrinoTokenizer' is not defined``).
DIALECT = "athena"
#: sqlglot logs a warning for every CTAS property it cannot render in other dialects; we read them ourselves.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: The catalog name Athena accepts in front of a database (``awsdatacatalog.sales.orders``).
DATA_CATALOG = "awsdatacatalog"


@dataclass
class Statement:
    """A parsed statement and what kind it is."""

    tree: exp.Expr
    statement_type: StatementType
    substatement_type: str
    #: CTAS properties (``format``, ``partitioned_by``, ``external_location``, …), lower-case keys.
    properties: dict[str, object] = field(default_factory=dict)
    #: A DDL statement as ``ddl_sql.py`` read it (a ``Ddl``); None for queries and writes.
    ddl: object | None = None


#: How many parsed statements are kept (then forgotten all at once), by their text.
PARSED_KEPT = 512
_parsed: dict[str, exp.Expr] = {}


def parse(sql: str) -> Statement:
    """Parse one Athena statement; a syntax error raises InvalidArgument with its line and column.

    A text parsed (and checked) before is not parsed again: its tree is kept, and each statement gets a copy
    of it (later steps change their tree), which costs a fifth of parsing."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise InvalidArgument("the query is empty; pass one SQL statement, e.g. 'SELECT 1'")
    kept = _parsed.get(text)
    if kept is None:
        kept = _parse(text)
        if len(_parsed) >= PARSED_KEPT:
            _parsed.clear()
        _parsed[text] = kept
    return classify(kept.copy())


def _parse(text: str) -> exp.Expr:
    seal.check_text(text, DIALECT)  # before parsing: ATTACH, INSTALL … FROM do not parse, and are refused by name
    try:
        trees = sqlglot.parse(text, read=DIALECT)
    except ParseError as exc:
        raise InvalidArgument(_parse_message(exc)) from None
    except TokenError as exc:
        raise InvalidArgument(f"line 1:1: {exc}") from None
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise InvalidArgument(f"a query runs one statement, but {len(statements)} were given; send them one by one")
    seal.check_tree(statements[0])
    seal.bounded(statements[0])
    # Athena's identifiers are case-insensitive and come out lower-case (``SELECT 1 AS Total`` → ``total``)
    tree: exp.Expr = normalize_identifiers(statements[0], dialect=DIALECT)
    return tree


def _parse_message(exc: ParseError) -> str:
    if not exc.errors:
        return f"line 1:1: {exc}"
    first = exc.errors[0]
    line, col = int(first.get("line") or 1), int(first.get("col") or 1)
    highlight = str(first.get("highlight") or "")
    start = max(1, col - len(highlight) + 1)  # sqlglot points at the end of the offending token
    description = _TOKEN.sub(_token_text, str(first.get("description") or "syntax error"))
    description = _REQUIRED.sub(lambda m: f"incomplete {m.group(2).upper()}",
                                description)
    near = f" at {highlight!r}" if highlight else ""
    return f"line {line}:{start}: {description}{near}"


_REQUIRED = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]+\.(\w+)'>")
_NEAR = re.compile(r'at or near "([^"]+)"')
_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+.*?>")


def _token_text(match: re.Match[str]) -> str:
    return "the end of the statement" if match.group(1) == "SENTINEL" else repr(match.group(2))


def classify(tree: exp.Expr) -> Statement:
    """The Athena statement and substatement type of a parsed statement (unsupported ones are refused)."""
    if isinstance(tree, exp.Query):
        return Statement(tree, "DML", "SELECT")
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        if kind == "TABLE" and isinstance(tree.expression, exp.Query):
            return Statement(tree, "DDL", "CREATE_TABLE_AS_SELECT", ctas_properties(tree))
    if isinstance(tree, exp.Insert):
        if not isinstance(tree.this, exp.Table | exp.Schema):
            raise InvalidArgument("INSERT writes into a catalog table: INSERT INTO db.table SELECT … | VALUES …")
        return Statement(tree, "DML", "INSERT")
    if isinstance(tree, exp.Delete):
        return Statement(tree, "DML", "DELETE")
    if isinstance(tree, exp.Update | exp.Merge):
        if not isinstance(tree.this, exp.Table):
            raise InvalidArgument(f"{type(tree).__name__.upper()} changes a catalog table: name it, e.g. db.table")
        return Statement(tree, "DML", type(tree).__name__.upper())
    from crispml.services.query.engines.duckdb.ddl_sql import read  # DDL's own reader (imports this module)

    ddl = read(tree)
    if ddl is not None:
        return Statement(tree, "UTILITY" if ddl.action == "EXPLAIN" else "DDL", ddl.action, ddl=ddl)
    name = type(tree).__name__.upper()
    if isinstance(tree, exp.Command):
        from crispml.services.query.engines.duckdb.dml import classify_command

        found = classify_command(tree)
        if found is not None:
            return found
        name = str(tree.this).upper()
    elif isinstance(tree, exp.Create | exp.Drop | exp.Alter):
        name = f"{name} {str(tree.args.get('kind') or '').upper()}".strip()
    raise InvalidArgument(
        f"{name} statements are not supported; the query service runs SELECT, CREATE TABLE … AS SELECT, "
        "INSERT INTO, DELETE FROM, UPDATE, MERGE INTO, OPTIMIZE, VACUUM and Athena's DDL (SHOW, DESCRIBE, "
        "CREATE/DROP DATABASE|TABLE|VIEW, ALTER TABLE ADD|DROP PARTITION, MSCK REPAIR TABLE, EXPLAIN)"
    )


def ctas_properties(tree: exp.Create) -> dict[str, object]:
    """The ``WITH (...)`` properties of a CTAS as plain values (strings, lists of strings)."""
    found: dict[str, object] = {}
    properties = tree.args.get("properties")
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.FileFormatProperty):
            found["format"] = _value(prop.this)
        elif isinstance(prop, exp.PartitionedByProperty):
            found["partitioned_by"] = _value(prop.this)
        elif isinstance(prop, exp.LocationProperty):  # location='…' (Iceberg CTAS) parses as its own node
            found["location"] = _value(prop.this)
        elif isinstance(prop, exp.Property):
            found[prop.name.lower()] = _value(prop.args.get("value"))
        else:
            sql = prop.sql(DIALECT)
            raise InvalidArgument(f"CTAS property {sql!r} is not supported; use WITH (format=…, partitioned_by=…, "
                                  "external_location=…, table_type=…)")
    return found


def _value(node: exp.Expr | None) -> object:
    if node is None:
        return None
    if isinstance(node, exp.Array | exp.Tuple | exp.Schema):
        return [str(_value(e)) for e in node.expressions]
    if isinstance(node, exp.Literal | exp.Identifier | exp.Var | exp.Column):
        return node.name
    if isinstance(node, exp.Boolean):
        return node.this
    return node.sql(DIALECT)


def table_references(tree: exp.Expr) -> list[exp.Table]:
    """Every catalog table a statement reads or writes, in order; CTE names and table functions excluded."""
    found: list[exp.Table] = []
    for table in tree.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.db and _is_cte(table):
            continue
        found.append(table)
    return found


def _is_cte(table: exp.Table) -> bool:
    """Whether an unqualified name refers to a WITH query visible where it is used."""
    name = table.name.lower()
    node: exp.Expr | None = table
    while node is not None:
        with_ = node.args.get("with_") if isinstance(node, exp.Expr) else None
        if with_ is None and isinstance(node, exp.Expr):
            with_ = node.args.get("with")
        if isinstance(with_, exp.With) and any(cte.alias_or_name.lower() == name for cte in with_.expressions):
            return True
        node = node.parent
    return False


def engine_syntax_error(message: str, sql: str) -> InvalidArgument:
    """DuckDB's parser error as InvalidArgument, positioned at the token it names in the user's SQL when that
    token appears there once (DuckDB parsed the rewritten statement, whose positions differ)."""
    text = message.split("\n\nLINE ", 1)[0].strip()
    match = _NEAR.search(text)
    if match is not None and sql.count(match.group(1)) == 1:
        offset = sql.index(match.group(1))
        line = sql.count("\n", 0, offset) + 1
        col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
        return InvalidArgument(f"line {line}:{col}: {text}")
    return InvalidArgument(text)
