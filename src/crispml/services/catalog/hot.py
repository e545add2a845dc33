"""The catalog's reads every query makes, in plain SQL: a table's current definition and its partitions.

A query looks up each table it names (``GetTable``) and lists the
partitions of each partitioned one (``GetPartitions``) before it reads a byte.
Through ORM sessions each cost several times the SQL itself — a session, an
identity map, statements built and compiled per call — so here they run as
text on the driver's cursor (:meth:`~crispml.core.metadb.engine.Database.cursor`),
as the lake's hot statements do: the table and its current version in one
joined read, its partitions in pages by ``seq``. The rows come back detached,
their values through the columns' own converters, so the entities built from
them are what the ORM's would give. A table that is not found is left to the
ORM path, which says what is missing and what is close to it; every other
catalog operation keeps the ORM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table

from crispml.core.metadb.engine import Database, detached
from crispml.services.catalog.store import PartitionRow, TableRow, TableVersionRow

_TABLES = cast(Table, TableRow.__table__)
_VERSIONS = cast(Table, TableVersionRow.__table__)
_PARTITIONS = cast(Table, PartitionRow.__table__)
_TABLE_COLUMNS = tuple(c.name for c in _TABLES.columns)
_VERSION_COLUMNS = ("document", "updated_at")
_PARTITION_COLUMNS = tuple(c.name for c in _PARTITIONS.columns)


class HotStatements:
    """The statements of one :class:`Database` (its placeholders, its converters)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        m = db.mark
        table = ", ".join(f"t.{c}" for c in _TABLE_COLUMNS)
        self.read_table = (f"SELECT {table}, v.document, v.updated_at FROM catalog_tables t "
                           f"JOIN catalog_table_versions v ON v.table_id = t.table_id "
                           f"AND v.version_id = t.version_id WHERE t.database = {m} AND t.name = {m}")
        self.read_table_only = (f"SELECT {', '.join(_TABLE_COLUMNS)} FROM catalog_tables "
                                f"WHERE database = {m} AND name = {m}")
        self.read_partitions = (f"SELECT {', '.join(_PARTITION_COLUMNS)} FROM catalog_partitions "
                                f"WHERE table_id = {m} AND seq > {m} ORDER BY seq LIMIT {m}")
        self._table: list[Callable[[Any], Any]] = [db.from_driver(_TABLES.c[c]) for c in _TABLE_COLUMNS]
        self._version = [db.from_driver(_VERSIONS.c[c]) for c in _VERSION_COLUMNS]
        self._partition = [db.from_driver(_PARTITIONS.c[c]) for c in _PARTITION_COLUMNS]

    def current(self, database: str, name: str) -> tuple[TableRow, TableVersionRow] | None:
        """A table and its current version (detached), or None if there is no such table."""
        with self.db.cursor() as cursor:
            cursor.execute(self.read_table, (database, name))
            found = cursor.fetchone()
        if found is None:
            return None
        count = len(_TABLE_COLUMNS)
        row = self._table_row(found[:count])
        document, updated_at = (convert(v) for convert, v in zip(self._version, found[count:], strict=True))
        return row, detached(TableVersionRow, {"table_id": row.table_id, "version_id": row.version_id,
                                               "document": document, "updated_at": updated_at})

    def partitions(self, database: str, name: str, after: int,
                   limit: int) -> tuple[TableRow, list[PartitionRow]] | None:
        """A table (detached) and up to ``limit`` of its partitions after ``seq`` ``after``, in the order they
        were added, read in one transaction; None if there is no such table."""
        with self.db.cursor() as cursor:
            cursor.execute(self.read_table_only, (database, name))
            found = cursor.fetchone()
            if found is None:
                return None
            row = self._table_row(found)
            cursor.execute(self.read_partitions, (row.table_id, after, limit))
            rows = cursor.fetchall()
        return row, [detached(PartitionRow, {c: convert(v) for c, convert, v in zip(
            _PARTITION_COLUMNS, self._partition, values, strict=True)}) for values in rows]

    def _table_row(self, values: Any) -> TableRow:
        return detached(TableRow, {c: convert(v)
                                   for c, convert, v in zip(_TABLE_COLUMNS, self._table, values, strict=True)})
