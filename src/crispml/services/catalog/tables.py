"""Table operations: create, get, list (by name pattern), update (keeping the old version), delete.

External tables are handled here; a managed (Iceberg) table — CreateTable with
``OpenTableFormatInput``, or UpdateTable/DeleteTable of one — is handed to
``managed.py``, which keeps its Glue row and its Iceberg entry in step.

Every definition a table has had is a row of ``catalog_table_versions``:
CreateTable writes version 0 and UpdateTable the next, so the previous schema
stays readable with GetTableVersion(s) (``versions.py``). ``SkipArchive``
replaces the current version instead of keeping it, as in Glue.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.catalog.core import decode_token, dumps, encode_token, loads, table_crn
from crispml.services.catalog.entities import Table
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    InvalidInputException,
)
from crispml.services.catalog.hot import HotStatements
from crispml.services.catalog.managed import ManagedTables
from crispml.services.catalog.specs import (
    CreateTableRequest,
    EmptyResponse,
    GetTableResponse,
    GetTablesRequest,
    GetTablesResponse,
    TableInput,
    TableRequest,
    UpdateTableRequest,
    UpdateTableResponse,
)
from crispml.services.catalog.store import PartitionRow, TableRow, TableVersionRow
from crispml.spine.operations import operation

_SCAN_BATCH = 500


def name_filter(expression: str | None) -> Callable[[str], bool]:
    """GetTables' Expression as a predicate on table names.

    Glue reads it as a regular expression over the whole name; a ``*`` that
    does not follow a ``.`` also means "any run of characters", as in Hive's
    patterns, so both ``sales.*`` and ``sales*`` list the tables starting with
    "sales" (and ``*orders*`` is not an error).
    """
    if not expression:
        return lambda name: True
    pattern = re.sub(r"(?<![.\\])\*", ".*", expression)
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise InvalidInputException(f"Expression {expression!r} is not a valid pattern: {exc}") from None
    return lambda name: regex.fullmatch(name) is not None


def _document(table_input: TableInput) -> str:
    return dumps(table_input.model_dump(mode="json"))


class TableOps(ManagedTables):
    @operation("CreateTable", resource=lambda r: table_crn(r.database_name, r.table_input.name))
    def create_table(self, ctx: CallContext, request: CreateTableRequest) -> EmptyResponse:
        """Create an external table over files in the lake (csv, json lines or parquet), or a managed
        (Apache Iceberg) table with OpenTableFormatInput."""
        given = request.table_input
        exists = AlreadyExistsException(f"table {request.database_name}.{given.name} already exists; "
                                        "change it with 'crispml catalog update-table'")
        self._check_buckets(ctx, [given.storage_descriptor.location])
        if given.is_iceberg:
            self._create_iceberg(ctx, request)
            return EmptyResponse()

        def work(session: Session) -> None:
            self._database(session, request.database_name)
            if session.scalars(select(TableRow.table_id).where(
                    TableRow.database == request.database_name, TableRow.name == given.name)).first():
                raise exists
            now = self.clock.now()
            row = TableRow(database=request.database_name, name=given.name, version_id=0,
                           created_at=now, created_by=ctx.principal)
            session.add(row)
            session.flush()
            session.add(TableVersionRow(table_id=row.table_id, version_id=0,
                                        document=_document(given), updated_at=now))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("GetTable", resource=lambda r: table_crn(r.database_name, r.name), mutating=False)
    def get_table(self, ctx: CallContext, request: TableRequest) -> GetTableResponse:
        """Show a table's current definition."""
        found = self.db.statements(HotStatements).current(request.database_name, request.name)  # every query
        if found is not None:
            return GetTableResponse(table=self._table_entity(*found))
        with self._reading() as session:  # it says what is missing (and what is close)
            row = self._table(session, request.database_name, request.name)
            return GetTableResponse(table=self._table_entity(row, self._version_row(session, row)))

    @operation("GetTables", resource=lambda r: table_crn(r.database_name, None), mutating=False)
    def get_tables(self, ctx: CallContext, request: GetTablesRequest) -> GetTablesResponse:
        """List a database's tables by name, optionally those matching a pattern, a page at a time."""
        matches = name_filter(request.expression)
        after = decode_token(request.next_token)
        found: list[Table] = []
        more = False
        with self._reading() as session:
            self._database(session, request.database_name)
            position = str(after) if after is not None else None
            while not more:
                query = select(TableRow).where(TableRow.database == request.database_name)
                if position is not None:
                    query = query.where(TableRow.name > position)
                batch = list(session.scalars(query.order_by(TableRow.name).limit(_SCAN_BATCH)))
                for row in batch:
                    if not matches(row.name):
                        continue
                    if len(found) == request.max_results:
                        more = True
                        break
                    found.append(self._table_entity(row, self._version_row(session, row)))
                if len(batch) < _SCAN_BATCH:
                    break
                position = batch[-1].name
        return GetTablesResponse(table_list=found,
                                 next_token=encode_token(found[-1].name) if more and found else None)

    @operation("UpdateTable", resource=lambda r: table_crn(r.database_name, r.table_input.name))
    def update_table(self, ctx: CallContext, request: UpdateTableRequest) -> UpdateTableResponse:
        """Replace a table's definition; the previous one stays as a version (unless SkipArchive).

        On a managed (Iceberg) table, changed columns evolve its Iceberg schema (add, drop, widen)."""
        given = request.table_input
        self._check_buckets(ctx, [given.storage_descriptor.location])
        managed = self._update_iceberg(ctx, request)
        if managed is not None:
            return managed

        def work(session: Session) -> int:
            row = self._table(session, request.database_name, given.name)
            self._check_version(row, request.version_id)
            self._check_partition_keys(session, row, given)
            return self._add_version(session, row, _document(given), skip_archive=request.skip_archive)

        return UpdateTableResponse(version_id=str(self._writing(work)))

    def _check_partition_keys(self, session: Session, row: TableRow, given: TableInput) -> None:
        """Partition keys may change only while the table has no partitions."""
        current = loads(self._version_row(session, row).document).get("partition_keys", [])
        if [k["name"] for k in current] == [k.name for k in given.partition_keys]:
            return
        if session.scalars(select(PartitionRow.seq).where(PartitionRow.table_id == row.table_id).limit(1)).first():
            raise InvalidInputException(
                f"table {row.database}.{row.name} has partitions, so its partition keys cannot change "
                f"(now: {', '.join(k['name'] for k in current) or 'none'}); delete the partitions first"
            )

    @operation("DeleteTable", resource=lambda r: table_crn(r.database_name, r.name))
    def delete_table(self, ctx: CallContext, request: TableRequest) -> EmptyResponse:
        """Delete a table, its versions and its partitions (the files in the lake stay, Iceberg tables' too)."""
        def work(session: Session) -> None:
            row = self._table(session, request.database_name, request.name)
            self._forget_iceberg(ctx, session, request.database_name, request.name)
            session.execute(delete(PartitionRow).where(PartitionRow.table_id == row.table_id))
            session.execute(delete(TableVersionRow).where(TableVersionRow.table_id == row.table_id))
            session.delete(row)

        self._writing(work)
        return EmptyResponse()
