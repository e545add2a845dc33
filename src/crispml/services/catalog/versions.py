"""Table versions: every definition a table has had, newest first (GetTableVersions),
one of them (GetTableVersion), and dropping an old one (DeleteTableVersion)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.catalog.core import CatalogCore, decode_token, encode_token, table_crn
from crispml.services.catalog.entities import TableVersion
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.specs import (
    EmptyResponse,
    GetTableVersionResponse,
    GetTableVersionsRequest,
    GetTableVersionsResponse,
    TableVersionRequest,
)
from crispml.services.catalog.store import TableVersionRow
from crispml.spine.operations import operation


def _version_number(text: str) -> int:
    if not text.isdigit():
        raise InvalidInputException(f"VersionId {text!r} must be a version number such as '0' or '3'")
    return int(text)


class VersionOps(CatalogCore):
    @operation("GetTableVersions", resource=lambda r: table_crn(r.database_name, r.table_name), mutating=False)
    def get_table_versions(self, ctx: CallContext, request: GetTableVersionsRequest) -> GetTableVersionsResponse:
        """List the versions of a table's definition, newest first."""
        after = decode_token(request.next_token)
        with self._reading() as session:
            table = self._table(session, request.database_name, request.table_name)
            query = select(TableVersionRow).where(TableVersionRow.table_id == table.table_id)
            if after is not None:
                query = query.where(TableVersionRow.version_id < int(after))
            rows = list(session.scalars(
                query.order_by(TableVersionRow.version_id.desc()).limit(request.max_results + 1)))
            page = rows[: request.max_results]
            versions = [TableVersion(table=self._table_entity(table, r), version_id=str(r.version_id))
                        for r in page]
        more = len(rows) > request.max_results
        return GetTableVersionsResponse(
            table_versions=versions, next_token=encode_token(page[-1].version_id) if more else None)

    @operation("GetTableVersion", resource=lambda r: table_crn(r.database_name, r.table_name), mutating=False)
    def get_table_version(self, ctx: CallContext, request: TableVersionRequest) -> GetTableVersionResponse:
        """Show one version of a table's definition."""
        wanted = _version_number(request.version_id)
        with self._reading() as session:
            table = self._table(session, request.database_name, request.table_name)
            row = self._version_row(session, table, wanted)
            return GetTableVersionResponse(table_version=TableVersion(
                table=self._table_entity(table, row), version_id=str(row.version_id)))

    @operation("DeleteTableVersion", resource=lambda r: table_crn(r.database_name, r.table_name))
    def delete_table_version(self, ctx: CallContext, request: TableVersionRequest) -> EmptyResponse:
        """Delete an old version of a table's definition (never the current one)."""
        wanted = _version_number(request.version_id)

        def work(session: Session) -> None:
            table = self._table(session, request.database_name, request.table_name)
            row = self._version_row(session, table, wanted)
            if wanted == table.version_id:
                raise InvalidInputException(
                    f"version {wanted} is the current version of {table.database}.{table.name}; "
                    "only older versions can be deleted (delete the table to drop it all)"
                )
            session.delete(row)

        self._writing(work)
        return EmptyResponse()
