"""Database operations: create, get, list, delete (with everything in it, as Glue does)."""

from __future__ import annotations

from sqlalchemy import column, delete, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.catalog.core import CatalogCore, database_crn, decode_token, dumps, encode_token
from crispml.services.catalog.errors import AlreadyExistsException
from crispml.services.catalog.specs import (
    CreateDatabaseRequest,
    DatabaseRequest,
    EmptyResponse,
    GetDatabaseResponse,
    GetDatabasesRequest,
    GetDatabasesResponse,
)
from crispml.services.catalog.store import DatabaseRow, PartitionRow, TableRow, TableVersionRow
from crispml.spine.operations import operation

#: pyiceberg's catalog table as far as deleting a database needs it (``iceberg_store.py`` has the whole
#: definition, which imports pyiceberg).
_ICEBERG_TABLES = table("iceberg_tables", column("table_namespace"))


class DatabaseOps(CatalogCore):
    @operation("CreateDatabase", resource=lambda r: database_crn(r.database_input.name))
    def create_database(self, ctx: CallContext, request: CreateDatabaseRequest) -> EmptyResponse:
        """Create a database (its name is stored lower-case, 1-255 letters, digits, '_' or '-')."""
        given = request.database_input
        exists = AlreadyExistsException(f"database {given.name!r} already exists")

        def work(session: Session) -> None:
            if session.get(DatabaseRow, given.name) is not None:
                raise exists
            session.add(DatabaseRow(
                name=given.name, description=given.description, location_uri=given.location_uri,
                parameters=dumps(given.parameters), created_at=self.clock.now(),
            ))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("GetDatabase", resource=lambda r: database_crn(r.name), mutating=False)
    def get_database(self, ctx: CallContext, request: DatabaseRequest) -> GetDatabaseResponse:
        """Show one database."""
        with self._reading() as session:
            return GetDatabaseResponse(database=self._database_entity(self._database(session, request.name)))

    @operation("GetDatabases", resource=lambda r: database_crn(None), mutating=False)
    def get_databases(self, ctx: CallContext, request: GetDatabasesRequest) -> GetDatabasesResponse:
        """List databases by name, a page at a time."""
        after = decode_token(request.next_token)
        query = select(DatabaseRow).order_by(DatabaseRow.name).limit(request.max_results + 1)
        if after is not None:
            query = query.where(DatabaseRow.name > str(after))
        with self._reading() as session:
            rows = list(session.scalars(query))
        page = rows[: request.max_results]
        more = len(rows) > request.max_results
        return GetDatabasesResponse(
            database_list=[self._database_entity(r) for r in page],
            next_token=encode_token(page[-1].name) if more else None,
        )

    @operation("DeleteDatabase", resource=lambda r: database_crn(r.name))
    def delete_database(self, ctx: CallContext, request: DatabaseRequest) -> EmptyResponse:
        """Delete a database and every table, version and partition in it (managed tables' files stay)."""
        def work(session: Session) -> None:
            row = self._database(session, request.name)
            tables = select(TableRow.table_id).where(TableRow.database == row.name).scalar_subquery()
            session.execute(delete(PartitionRow).where(PartitionRow.table_id.in_(tables)))
            session.execute(delete(TableVersionRow).where(TableVersionRow.table_id.in_(tables)))
            session.execute(delete(TableRow).where(TableRow.database == row.name))
            session.execute(delete(_ICEBERG_TABLES).where(_ICEBERG_TABLES.c.table_namespace == row.name))
            session.delete(row)

        self._writing(work)
        return EmptyResponse()
