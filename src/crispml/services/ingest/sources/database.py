"""Reading rows from a SQL database by SQLAlchemy URL: a table or a SELECT, whole or above a watermark.

The rows are streamed: the statement runs with ``stream_results`` (a
server-side cursor on PostgreSQL) and is fetched ``BatchSize`` rows at a time
(``yield_per``), so a large table never sits in memory. An incremental read
adds ``WHERE <key> > :watermark`` (a table's column through SQLAlchemy Core;
a query wrapped as ``SELECT * FROM (<query>) AS crispml_source WHERE …``),
and tracks the highest key value it read, which becomes the job's next
watermark. One statement reads the run's rows, so they come from one
consistent snapshot of the source; the highest value is taken from what was
read, not asked for separately, so no row slips between two statements. As
with Glue's JDBC bookmarks, the key must grow with every new row: a row that
arrives later with a value at or below the watermark is not loaded, and rows
whose key is NULL are loaded by the first (full) run only.

A watermark is kept as JSON with its type (``int``, ``decimal``, ``float``,
``datetime``, ``date``, ``text``), so the next run compares like with like.
Connection and query errors are reported without the password (the URL is
redacted, and the password scrubbed from the driver's own message).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from crispml.core.plugins import redact
from crispml.services.ingest.conform import TargetSchema, column_arrays
from crispml.services.ingest.entities import DatabaseSource
from crispml.services.ingest.errors import InvalidInputException, SourceUnavailableException
from crispml.services.ingest.sources.base import Piece, Progress
from crispml.services.ingest.specs import source_url

_ALIAS = "crispml_source"
_CONNECT_TIMEOUT = 10


# -- watermarks ----------------------------------------------------------------------------------


def encode_value(value: Any) -> dict[str, str]:
    """A watermark value as JSON with its type."""
    if isinstance(value, bool) or value is None:
        raise InvalidInputException(f"a bookmark key must hold numbers, texts or times, not {value!r}")
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    raise InvalidInputException(
        f"a bookmark key must hold numbers, texts or times, not {type(value).__name__} values")


def decode_value(stored: dict[str, str]) -> Any:
    kind, text = stored["type"], stored["value"]
    readers: dict[str, Any] = {"int": int, "decimal": Decimal, "float": float, "text": str,
                               "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat}
    return readers[kind](text)


# -- reading -------------------------------------------------------------------------------------


class DatabaseReader:
    """The rows of a database table or query, a batch at a time, above a watermark if one is given."""

    def __init__(self, url: str, source: DatabaseSource, target: TargetSchema, key: str | None,
                 bookmark: dict[str, Any] | None) -> None:
        self.url = source_url(url)
        self.password = self.url.password
        self.shown = redact(url)
        self.source = source
        self.target = target
        self.key = key
        self.low = decode_value(bookmark["watermark"]) if key and bookmark and bookmark.get("watermark") else None
        self.high = self.low
        self.origin = f"source {'table ' + source.table if source.table else 'query'} of {self.shown}"

    def pieces(self, progress: Progress) -> Iterator[Piece]:
        engine = self._engine()
        hints = {n: self.target.type_of(n) for n in self.target.arrow.names}
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            engine.dispose()
            raise SourceUnavailableException(
                f"cannot connect to the source database {self.shown}: {self._detail(exc)}") from None
        try:
            with conn:
                statement, params, key = self._statement(conn)
                streaming = conn.execution_options(stream_results=True, yield_per=self.source.batch_size)
                result = streaming.execute(statement, params)
                names = list(result.keys())
                at = names.index(key) if key is not None else None
                first = 1
                for rows in result.partitions(self.source.batch_size):
                    columns = {n: [row[i] for row in rows] for i, n in enumerate(names)}
                    if at is not None:
                        self._advance(columns[names[at]])
                    data = column_arrays(columns, hints, self.origin, first)
                    progress.bytes_read += data.nbytes
                    yield Piece(data, self.origin, first)
                    first += len(rows)
        except DBAPIError as exc:
            raise self._failure(exc) from None
        except SQLAlchemyError as exc:
            raise InvalidInputException(f"{self.origin}: {self._scrub(str(exc))}") from None
        finally:
            engine.dispose()

    def columns(self) -> list[tuple[str, str]]:
        """The source's columns with Glue (Hive) types, for a table the job creates: a table's as the
        database declares them, a query's as its first batch of rows holds them."""
        from crispml.services.ingest.create import arrow_hive_type, sql_hive_type

        engine = self._engine()
        try:
            with engine.connect() as conn:
                if self.source.table is not None:
                    dialect = self.url.get_backend_name()
                    return [(c.name, sql_hive_type(c.type, dialect)) for c in self._reflect(conn).columns]
                assert self.source.query is not None
                query = self.source.query.replace(":", "\\:")
                result = conn.execute(sa.text(f"SELECT * FROM ({query}) AS {_ALIAS}"))
                names = list(result.keys())
                rows = result.fetchmany(self.source.batch_size)
                result.close()
        except DBAPIError as exc:
            raise self._failure(exc) from None
        except SQLAlchemyError as exc:
            raise InvalidInputException(f"{self.origin}: {self._scrub(str(exc))}") from None
        finally:
            engine.dispose()
        data = column_arrays({n: [row[i] for row in rows] for i, n in enumerate(names)}, {}, self.origin, 1)
        return [(n, arrow_hive_type(data.schema.field(n).type, n)) for n in names]

    def bookmark_after(self) -> dict[str, Any] | None:
        if self.key is None:
            return None
        return {"column": self.key, "watermark": encode_value(self.high) if self.high is not None else None}

    # -- helpers -----------------------------------------------------------------------------

    def _engine(self) -> sa.Engine:
        arguments: dict[str, Any] = {}
        if self.url.get_backend_name() == "postgresql":
            arguments["connect_timeout"] = _CONNECT_TIMEOUT
        try:
            return sa.create_engine(self.url, poolclass=NullPool, connect_args=arguments)
        except ImportError as exc:
            raise InvalidInputException(
                f"reading {self.shown} needs the Python driver {exc.name or self.url.drivername!r}, which is not "
                "installed here") from None

    def _statement(self, conn: Connection) -> tuple[Any, dict[str, Any], str | None]:
        """The statement that reads the run's rows, its parameters, and the key's name as the rows spell it."""
        if self.source.table is not None:
            return self._table_statement(conn)
        assert self.source.query is not None
        query = self.source.query.replace(":", "\\:")  # the user's colons are not bind parameters
        probe = conn.execute(sa.text(f"SELECT * FROM ({query}) AS {_ALIAS} WHERE 1 = 0"))
        names = list(probe.keys())
        probe.close()
        key = self._key_name(names)
        if key is None or self.low is None:
            return sa.text(f"SELECT * FROM ({query}) AS {_ALIAS}"), {}, key
        quoted = conn.dialect.identifier_preparer.quote(key)
        return (sa.text(f"SELECT * FROM ({query}) AS {_ALIAS} WHERE {_ALIAS}.{quoted} > :crispml_watermark"),
                {"crispml_watermark": self.low}, key)

    def _table_statement(self, conn: Connection) -> tuple[Any, dict[str, Any], str | None]:
        table = self._reflect(conn)
        key = self._key_name([c.name for c in table.columns])
        statement = sa.select(table)
        if key is not None and self.low is not None:
            statement = statement.where(table.c[key] > self.low)
        return statement, {}, key

    def _reflect(self, conn: Connection) -> sa.Table:
        assert self.source.table is not None
        schema, _, name = self.source.table.rpartition(".")
        try:
            return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
        except NoSuchTableError:
            found = sorted(sa.inspect(conn).get_table_names(schema=schema or None))
            listed = ", ".join(found[:20]) or "none"
            raise InvalidInputException(
                f"source table {self.source.table!r} does not exist in {self.shown} (tables: {listed})") from None

    def _key_name(self, names: list[str]) -> str | None:
        if self.key is None:
            return None
        match = next((n for n in names if n == self.key), None) or next(
            (n for n in names if n.lower() == self.key.lower()), None)
        if match is None:
            raise InvalidInputException(
                f"bookmark key {self.key!r} is not a column of the {self.origin} (columns: {', '.join(names)})")
        return match

    def _advance(self, values: list[Any]) -> None:
        try:
            present = [v for v in values if v is not None]
            if present:
                top = max(present)
                self.high = top if self.high is None or top > self.high else self.high
        except TypeError:
            raise InvalidInputException(
                f"bookmark key {self.key!r} of the {self.origin} holds values that do not compare (e.g. texts and "
                "numbers); use a column of one type") from None

    def _failure(self, exc: DBAPIError) -> Exception:
        if exc.connection_invalidated:
            return SourceUnavailableException(
                f"the connection to the source database {self.shown} broke: {self._detail(exc)}")
        return InvalidInputException(f"the source database {self.shown} refused to read the {self.origin}: "
                                     f"{self._detail(exc)}")

    def _detail(self, exc: DBAPIError) -> str:
        return self._scrub(str(exc.orig) if exc.orig is not None else str(exc))

    def _scrub(self, text: str) -> str:
        """A driver message without the password, on one line."""
        line = text.strip().splitlines()[0] if text.strip() else "no detail"
        if self.password:
            line = line.replace(str(self.password), "***")
        return line
