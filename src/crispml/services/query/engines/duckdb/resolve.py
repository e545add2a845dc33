"""Catalog names in a statement → catalog tables, looked up as the caller.

Every table a statement names (CTE names excepted) is read with the catalog's
``GetTable`` as the caller; an unqualified name lives in the request's
database. A name that is not there raises :class:`NotFound` naming the close
matches (difflib over the database's tables, or over the databases when the
database itself is unknown), as a user of Athena's "Table not found" would
want. Deliberately not here: listing files (``scan.py``).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from crispml.core.errors import InvalidArgument, NotFound
from crispml.services.catalog.service import (
    DatabaseRequest,
    GetDatabasesRequest,
    GetTablesRequest,
    Table,
    TableRequest,
)
from crispml.services.query.engines.base import Caller
from crispml.services.query.engines.duckdb.sql import DATA_CATALOG

ICEBERG = "ICEBERG"


@dataclass
class Column:
    name: str
    hive_type: str


@dataclass
class TableRef:
    """One catalog table as the statement reads (or writes) it."""

    database: str
    name: str
    table: Table
    node: exp.Table | None = None
    #: The name columns are qualified with in the statement (alias, else the table's name).
    alias: str = ""
    #: Time travel: ("VERSION", snapshot id) or ("TIMESTAMP", DuckDB SQL of the instant).
    as_of: tuple[str, str] | None = None
    #: WHERE conjuncts (DuckDB SQL over ``alias``) that only use partition keys: prune with them.
    prune: list[str] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def is_iceberg(self) -> bool:
        parameters = {k.lower(): v for k, v in (self.table.parameters or {}).items()}
        return str(parameters.get("table_type", "")).upper() == ICEBERG or self.table.table_type == ICEBERG

    @property
    def columns(self) -> list[Column]:
        return [Column(c.name, c.type or "string") for c in self.table.storage_descriptor.columns]

    @property
    def keys(self) -> list[Column]:
        return [Column(c.name, c.type or "string") for c in self.table.partition_keys]


def names(table: exp.Table, default_database: str | None) -> tuple[str, str]:
    """(database, table) of a table node; the request's database when unqualified."""
    catalog = table.catalog
    if catalog and catalog.lower() != DATA_CATALOG:
        raise NotFound(f"catalog {catalog!r} does not exist; tables live in {DATA_CATALOG!r} (or leave it out)")
    database = (table.db or default_database or "").lower()
    if not database:
        raise InvalidArgument(
            f"table {table.name!r} is not qualified and the query has no database; write db.{table.name} "
            "or pass a database with the query"
        )
    return database, table.name.lower()


def lookup(caller: Caller, database: str, name: str) -> Table:
    """The catalog table ``database.name``; NotFound naming close matches."""
    with contextlib.suppress(NotFound):  # not found: say what is there instead
        return caller.catalog.get_table(caller.ctx, TableRequest(database_name=database, name=name)).table
    databases = list(database_names(caller))
    if database not in databases:
        close = difflib.get_close_matches(database, databases, n=3)
        hint = (f"; did you mean {_listed(close)}?" if close
                else f" (databases: {_listed(sorted(databases)[:10])})" if databases
                else " (there are no databases yet: create one, or run a crawler)")
        raise NotFound(f"database {database!r} does not exist{hint}") from None
    tables = [t.name for t in tables_of(caller, database)]
    close = difflib.get_close_matches(name, tables, n=3)
    hint = f"; did you mean {_listed(close)}?" if close else (
        f" (tables: {_listed(sorted(tables)[:10])})" if tables else " (the database has no tables)")
    raise NotFound(f"table {database}.{name} does not exist{hint}") from None


def exists(caller: Caller, database: str, name: str) -> bool:
    try:
        caller.catalog.get_table(caller.ctx, TableRequest(database_name=database, name=name))
    except NotFound:
        return False
    return True


def require_database(caller: Caller, database: str) -> None:
    try:
        caller.catalog.get_database(caller.ctx, DatabaseRequest(name=database))
    except NotFound:
        databases = list(database_names(caller))
        close = difflib.get_close_matches(database, databases, n=3)
        hint = f"; did you mean {_listed(close)}?" if close else ""
        raise NotFound(f"database {database!r} does not exist{hint}") from None


def _listed(items: list[str]) -> str:
    return ", ".join(repr(i) for i in items)


def database_names(caller: Caller) -> Iterator[str]:
    """Every database's name the caller may list, page by page."""
    token = None
    while True:
        page = caller.catalog.get_databases(caller.ctx, GetDatabasesRequest(next_token=token))
        yield from (d.name for d in page.database_list)
        token = page.next_token
        if not token:
            return


def tables_of(caller: Caller, database: str) -> Iterator[Table]:
    """Every table (and view) of ``database``, page by page."""
    token = None
    while True:
        page = caller.catalog.get_tables(caller.ctx, GetTablesRequest(database_name=database, next_token=token))
        yield from page.table_list
        token = page.next_token
        if not token:
            return


def time_travel(table: exp.Table) -> tuple[str, str] | None:
    """``FOR VERSION AS OF n`` → ("VERSION", "n"); ``FOR TIMESTAMP AS OF ts`` → ("TIMESTAMP", SQL of ts)."""
    version = table.args.get("version")
    if not isinstance(version, exp.Version):
        return None
    kind = str(version.this).upper()
    value = version.expression
    if kind == "VERSION":
        if not isinstance(value, exp.Literal) or not value.name.lstrip("-").isdigit():
            raise InvalidArgument(f"FOR VERSION AS OF takes a snapshot id (a whole number), not {value.sql()!r}")
        return "VERSION", value.name
    if kind == "TIMESTAMP":
        return "TIMESTAMP", value.sql("duckdb")
    raise InvalidArgument(f"FOR {kind} AS OF is not supported; use FOR VERSION AS OF or FOR TIMESTAMP AS OF")
