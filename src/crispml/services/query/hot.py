"""The statements every query runs, in plain SQL: its workgroup read, its record, its state changes.

A ``SELECT 1`` reads its workgroup, records its execution, writes its end
state and is read back by ``GetQueryExecution`` and ``GetQueryResults``. In
ORM sessions each of those costs several times the SQL (a session, a flush,
statements built per call); here they are text on the driver's cursor
(:meth:`~crispml.core.metadb.engine.Database.cursor`), the values passing
through the columns' own converters so that what is stored is what Core would
store. The rest of the service (lists, workgroups, statements) keeps the ORM.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table

from crispml.core.metadb.engine import Database, detached
from crispml.services.query.entities import ACTIVE_STATES, WorkGroupConfiguration
from crispml.services.query.store import QueryExecutionRow

_TABLE = cast(Table, QueryExecutionRow.__table__)
COLUMNS = tuple(c.name for c in _TABLE.columns)
_ACTIVE = tuple(sorted(ACTIVE_STATES))


@functools.lru_cache(maxsize=64)
def configuration(text: str) -> WorkGroupConfiguration:
    """A workgroup's configuration from its stored JSON (parsed once per distinct text; read-only)."""
    return WorkGroupConfiguration.model_validate_json(text)


class HotStatements:
    """The statements of one :class:`Database` (its placeholders, its converters)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        m = db.mark
        self.read = f"SELECT {', '.join(COLUMNS)} FROM query_executions WHERE query_execution_id = {m}"
        self.settings = f"SELECT state, configuration FROM query_workgroups WHERE name = {m}"
        written = [c for c in COLUMNS if c != "seq"]
        self._written = written
        self.insert = (f"INSERT INTO query_executions ({', '.join(written)}) "
                       f"VALUES ({', '.join([m] * len(written))})")
        self._to = {c: db.to_driver(_TABLE.c[c]) for c in COLUMNS}
        self._from: list[Callable[[Any], Any]] = [db.from_driver(_TABLE.c[c]) for c in COLUMNS]
        self._updates: dict[tuple[tuple[str, ...], bool], str] = {}

    def execution(self, query_execution_id: str) -> QueryExecutionRow | None:
        """An execution's row as it is now (detached), or None."""
        with self.db.cursor() as cursor:
            cursor.execute(self.read, (query_execution_id,))
            found = cursor.fetchone()
        if found is None:
            return None
        return detached(QueryExecutionRow,
                        {c: convert(v) for c, convert, v in zip(COLUMNS, self._from, found, strict=True)})

    def workgroup(self, name: str) -> tuple[str, WorkGroupConfiguration] | None:
        """A workgroup's state and configuration, or None if there is no such workgroup."""
        with self.db.cursor() as cursor:
            cursor.execute(self.settings, (name,))
            found = cursor.fetchone()
        return None if found is None else (found[0], configuration(found[1]))

    def record(self, values: dict[str, Any], cursor: Any) -> None:
        """Insert an execution (every column but ``seq``; absent ones NULL) on ``cursor``."""
        cursor.execute(self.insert, tuple(self._to[c](values.get(c)) for c in self._written))

    def update(self, query_execution_id: str, values: dict[str, Any], *, active_only: bool) -> bool:
        """Set ``values`` on an execution; with ``active_only`` only while QUEUED or RUNNING. True if changed."""
        names = tuple(values)
        key = (names, active_only)
        sql = self._updates.get(key)
        if sql is None:
            m = self.db.mark
            sql = (f"UPDATE query_executions SET {', '.join(f'{n} = {m}' for n in names)} "
                   f"WHERE query_execution_id = {m}")
            if active_only:
                sql += f" AND state IN ({', '.join([m] * len(_ACTIVE))})"
            self._updates[key] = sql
        parameters = [self._to[n](values[n]) for n in names] + [query_execution_id]
        if active_only:
            parameters += _ACTIVE
        with self.db.cursor(write=True) as cursor:
            cursor.execute(sql, tuple(parameters))
            return bool(cursor.rowcount)
