"""Shared machinery of the catalog's operations: transactions, lookups with
helpful misses, page tokens, turning rows into entities, and the one check
that reaches another service (a table's bucket must exist in the lake).

The bucket check goes through the lake's public ``HeadBucket`` operation, as
the caller: pointing a table at a bucket you cannot see is refused like
reading it would be. It checks the bucket only, not that files exist —
Glue accepts an empty prefix, and files arrive later.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import NotFound
from crispml.core.hive import location_bucket
from crispml.core.names import crn
from crispml.services.catalog.entities import Database, Partition, StorageDescriptor, Table
from crispml.services.catalog.errors import (
    ConcurrentModificationException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.catalog.store import DatabaseRow, PartitionRow, TableRow, TableVersionRow
from crispml.services.lake.service import BucketRequest, LakeService
from crispml.spine.operations import RuntimeAccess


def database_crn(name: str | None) -> str:
    return crn("catalog", f"database/{name or '*'}")


def table_crn(database: str, name: str | None) -> str:
    return crn("catalog", f"table/{database}/{name or '*'}")


def encode_token(value: Any) -> str:
    return paging.encode_token(value)


def decode_token(token: str | None) -> Any:
    """The position a NextToken stands for (None on the first page)."""
    if token is None:
        return None
    try:
        return paging.decode_token(token)
    except ValueError as exc:
        raise InvalidInputException(
            "NextToken is not valid; pass the one the previous page returned"
        ) from exc


def loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class CatalogCore(RuntimeAccess):
    """Helpers shared by the catalog's operation groups."""

    # -- lookups -------------------------------------------------------------------

    @staticmethod
    def _database(session: Session, name: str) -> DatabaseRow:
        row = session.get(DatabaseRow, name)
        if row is None:
            close = difflib.get_close_matches(name, session.scalars(select(DatabaseRow.name)).all(), n=3)
            hint = f" (did you mean {_listed(close)}?)" if close else ""
            raise EntityNotFoundException(
                f"database {name!r} does not exist{hint}; create it with "
                f"'crispml catalog create-database --database-input '{{\"Name\": \"{name}\"}}''"
            )
        return row

    def _table(self, session: Session, database: str, name: str) -> TableRow:
        self._database(session, database)
        row = session.scalars(select(TableRow).where(
            TableRow.database == database, TableRow.name == name)).first()
        if row is None:
            names = session.scalars(select(TableRow.name).where(TableRow.database == database)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = (f"; did you mean {_listed(close)}?" if close
                    else f"; it holds {_listed(sorted(names)[:10])}" if names else "; it holds no tables")
            raise EntityNotFoundException(f"table {database}.{name} does not exist{hint}")
        return row

    @staticmethod
    def _version_row(session: Session, table: TableRow, version_id: int | None = None) -> TableVersionRow:
        wanted = table.version_id if version_id is None else version_id
        row = session.get(TableVersionRow, (table.table_id, wanted))
        if row is None:
            raise EntityNotFoundException(
                f"table {table.database}.{table.name} has no version {wanted}; "
                "list them with 'crispml catalog get-table-versions'"
            )
        return row

    # -- versions --------------------------------------------------------------------

    @staticmethod
    def _check_version(table: TableRow, expected: str | None) -> None:
        """UpdateTable's VersionId: refuse if the table moved on since the caller read it."""
        if expected is not None and expected != str(table.version_id):
            raise ConcurrentModificationException(
                f"table {table.database}.{table.name} is at version {table.version_id}, not "
                f"{expected}; read it again and repeat the update"
            )

    def _add_version(self, session: Session, table: TableRow, document: str, *, skip_archive: bool) -> int:
        """Make ``document`` the table's next (current) version; drop the previous one if ``skip_archive``."""
        previous = table.version_id
        newest = session.scalars(select(TableVersionRow.version_id).where(
            TableVersionRow.table_id == table.table_id
        ).order_by(TableVersionRow.version_id.desc()).limit(1)).first()
        table.version_id = (newest if newest is not None else previous) + 1
        session.add(TableVersionRow(table_id=table.table_id, version_id=table.version_id,
                                    document=document, updated_at=self.clock.now()))
        if skip_archive:
            session.execute(delete(TableVersionRow).where(
                TableVersionRow.table_id == table.table_id, TableVersionRow.version_id == previous))
        return table.version_id

    # -- entities --------------------------------------------------------------------

    @staticmethod
    def _database_entity(row: DatabaseRow) -> Database:
        return Database(name=row.name, description=row.description, location_uri=row.location_uri,
                        parameters=loads(row.parameters), create_time=row.created_at)

    @staticmethod
    def _table_entity(table: TableRow, version: TableVersionRow) -> Table:
        document = loads(version.document)
        return Table.model_validate({
            **document, "database_name": table.database, "create_time": table.created_at,
            "update_time": version.updated_at, "created_by": table.created_by,
            "version_id": str(version.version_id),
        })

    @staticmethod
    def _partition_entity(table: TableRow, row: PartitionRow) -> Partition:
        return Partition(
            values=json.loads(row.partition_values), database_name=table.database, table_name=table.name,
            creation_time=row.created_at, last_access_time=row.last_access_time,
            storage_descriptor=StorageDescriptor.model_validate(loads(row.storage_descriptor)),
            parameters=loads(row.parameters),
        )

    # -- the lake --------------------------------------------------------------------

    def _check_buckets(self, ctx: CallContext, locations: Iterable[str | None]) -> None:
        """Every bucket the locations name must exist in the lake."""
        lake = self.peer(LakeService)
        for bucket in sorted({location_bucket(loc) for loc in locations if loc}):
            try:
                lake.head_bucket(ctx, BucketRequest(bucket=bucket))
            except NotFound:
                raise InvalidInputException(
                    f"location bucket {bucket!r} does not exist in the lake; create it with "
                    f"'crispml lake create-bucket --bucket {bucket}' or fix the location"
                ) from None


def _listed(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)
