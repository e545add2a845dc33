"""Managed (Apache Iceberg) tables: creating, evolving and dropping them, and committing changes.

A managed table is two things kept in step: a Glue table row (an
``EXTERNAL_TABLE`` whose ``Parameters`` hold ``table_type=ICEBERG`` and the
current ``metadata_location``, as Athena leaves them) and an entry of
pyiceberg's SQL catalog pointing at the table's current metadata file in the
lake. Both change in one transaction (``iceberg_catalog.py``): CreateTable adds
both, every commit moves both pointers, DeleteTable removes both.

- A data commit (``managed_ops.py``) updates the current Glue version in place,
  as Iceberg's Glue catalog does (``glue.skip-archive``): the table's
  definition did not change, only where its data is.
- A schema change through UpdateTable adds a Glue version, so the previous
  columns stay visible with GetTableVersions, and commits the Iceberg schema
  change in the same transaction: add columns, drop columns, widen types
  (``int`` → ``bigint``, ``float`` → ``double``, a wider ``decimal``);
  narrowing or any other type change is refused, as Iceberg refuses it. The
  location and the partition keys of a managed table cannot change.
- DeleteTable forgets the table; its files stay in the lake (Glue's DeleteTable
  never deletes data). DeleteDatabase leaves the Iceberg entries of its tables
  behind; such an entry has no Glue table, so nothing reads it, and a new table
  of the same name replaces it.

Several writers: a data commit holds the table's commit lock
(``iceberg_locks.py``) from reading the table's state to moving its pointer,
so writers take turns instead of racing, and an append (whose files are
written before the lock is taken) never fails for contention. The pointer
swap stays a compare-and-set: a commit built outside the lock on an older
state (pyiceberg used directly) loses it, and pyiceberg retries it (Iceberg's
``commit.retry.*`` table properties), rebasing its snapshot on the winner's
and reusing the files it wrote; when it gives up, or the winner's change
conflicts with it (an overwrite of rows a rival deleted), the operation fails
with ConcurrentModificationException and changes nothing. Schema changes, which
pyiceberg does not retry, are tried again here on the new state up to
:data:`COMMIT_ATTEMPTS` times. Each snapshot's summary names the request and
the principal that committed it (``crispml.request-id``, ``crispml.principal``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.catalog.core import CatalogCore, dumps, loads
from crispml.services.catalog.entities import Column, is_iceberg
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    ConcurrentModificationException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.catalog.specs import CreateTableRequest, TableInput, UpdateTableRequest, UpdateTableResponse
from crispml.services.catalog.store import TableRow, TableVersionRow
from crispml.services.lake.service import LakeService

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table as IcebergTable
    from pyiceberg.table.snapshots import Snapshot

    from crispml.services.catalog.iceberg_catalog import LakeCatalog

#: How often a schema change is tried before a concurrent writer's win is reported.
COMMIT_ATTEMPTS = 4
#: The snapshot summary property naming the request that committed a snapshot (ingest tags runs with it).
REQUEST_TAG = "crispml.request-id"
#: The snapshot summary property naming the principal that committed a snapshot.
PRINCIPAL_TAG = "crispml.principal"
_POINTERS = ("metadata_location", "previous_metadata_location")


def _identifier(database: str, name: str) -> tuple[str, str]:
    return (database, name)


@contextmanager
def _iceberg_errors(table: str) -> Iterator[None]:
    """pyiceberg's refusals of bad input as InvalidArgument; its chatter ("no rows matched") silenced."""
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, ValidationError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except (CommitFailedException, NoSuchTableError, InvalidInputException):
            raise
        except (ValidationError, ValueError) as exc:
            raise InvalidInputException(f"table {table}: {exc}") from exc


class ManagedTables(CatalogCore):
    """Helpers for managed tables, shared by the table operations and the data operations."""

    def _lake_catalog(self, ctx: CallContext, on_commit: Callable[..., None] | None = None) -> LakeCatalog:
        from crispml.services.catalog.iceberg_catalog import LakeCatalog

        return LakeCatalog(self.db, self.peer(LakeService).filesystem(ctx), on_commit or self._point_glue_at)

    @staticmethod
    def _point_glue_at(session: Session, identifier: tuple[str, str], location: str, previous: str | None) -> None:
        """A data commit: the current Glue version's ``metadata_location`` follows the Iceberg pointer."""
        from pyiceberg.exceptions import NoSuchTableError

        database, name = identifier
        table = session.scalars(select(TableRow).where(TableRow.database == database, TableRow.name == name)).first()
        if table is None:
            raise NoSuchTableError(f"Table does not exist: {database}.{name}")
        version = session.get(TableVersionRow, (table.table_id, table.version_id))
        assert version is not None
        version.document = _with_pointers(loads(version.document), location, previous)

    # -- lifecycle -----------------------------------------------------------------------

    def _create_iceberg(self, ctx: CallContext, request: CreateTableRequest) -> None:
        """CreateTable with OpenTableFormatInput: a new Iceberg table and its Glue row, together."""
        from crispml.services.catalog.iceberg_types import partition_spec, table_schema

        given = request.table_input
        database = request.database_name
        assert request.open_table_format_input is not None and given.storage_descriptor.location
        exists = AlreadyExistsException(f"table {database}.{given.name} already exists; "
                                        "change it with 'crispml catalog update-table'")
        with self._reading() as session:
            self._database(session, database)
            if session.scalars(select(TableRow.table_id).where(
                    TableRow.database == database, TableRow.name == given.name)).first():
                raise exists
        schema = table_schema(given.storage_descriptor.columns, given.partition_keys)
        document = _document(given, schema)
        location = given.storage_descriptor.location.rstrip("/")
        version = request.open_table_format_input.iceberg_input.version

        def register(session: Session, metadata_location: str) -> None:
            self._database(session, database)
            if session.scalars(select(TableRow.table_id).where(
                    TableRow.database == database, TableRow.name == given.name)).first():
                raise exists
            now = self.clock.now()
            row = TableRow(database=database, name=given.name, version_id=0, created_at=now,
                           created_by=ctx.principal)
            session.add(row)
            session.flush()
            session.add(TableVersionRow(table_id=row.table_id, version_id=0, updated_at=now,
                                        document=_with_pointers(document, metadata_location, None)))

        catalog = self._lake_catalog(ctx)
        try:
            with _iceberg_errors(f"{database}.{given.name}"):
                catalog.create(_identifier(database, given.name), schema, location,
                               partition_spec(schema, given.partition_keys), {"format-version": version},
                               also=register)
        except IntegrityError as exc:
            raise exists from exc

    def _update_iceberg(self, ctx: CallContext, request: UpdateTableRequest) -> UpdateTableResponse | None:
        """UpdateTable on a managed table (None: the table is external, update it as such)."""
        from pyiceberg.exceptions import CommitFailedException

        from crispml.services.catalog.iceberg_types import iceberg_type

        given = request.table_input
        database, name = request.database_name, given.name
        with self._reading() as session:
            row = self._table(session, database, name)
            current = loads(self._version_row(session, row).document)
        if not is_iceberg(current.get("parameters", {})):
            if given.is_iceberg:
                raise InvalidInputException(
                    f"table {database}.{name} is an external table and cannot become an Iceberg table; "
                    "create a new table with OpenTableFormatInput and load it with 'append-table-data'"
                )
            given.require_format()
            return None
        if not given.is_iceberg and given.table_type == "EXTERNAL_TABLE" and "classification" not in given.parameters:
            # a definition that names no format of its own: the table stays what it is, managed
            given = TableInput.model_validate({**given.model_dump(), "parameters": {
                **given.parameters, "table_type": current["parameters"].get("table_type", "ICEBERG")}})
        if not given.is_iceberg:
            raise InvalidInputException(
                f"table {database}.{name} is an Iceberg table: keep Parameters table_type=ICEBERG in its TableInput"
            )
        self._check_version(row, request.version_id)
        _check_unchanged(f"{database}.{name}", current, given)
        comments = {c.name: c.comment for c in [*given.storage_descriptor.columns, *given.partition_keys]}
        wanted = [(c.name, iceberg_type(c.name, c.type or "")) for c in [
            *given.storage_descriptor.columns, *given.partition_keys]]
        evolved: list[Schema] = []
        new_version: list[int] = []

        def add_version(session: Session, identifier: tuple[str, str], location: str, previous: str | None) -> None:
            table = self._table(session, database, name)
            self._check_version(table, request.version_id)
            document = _with_pointers(_document(given, evolved[-1]), location, previous)
            new_version.append(self._add_version(session, table, document, skip_archive=request.skip_archive))

        def add_version_only(session: Session) -> None:
            """No Iceberg change (a description, say): a new Glue version at the same metadata file."""
            pointers = loads(self._version_row(session, self._table(session, database, name)).document)
            add_version(session, (database, name), pointers["parameters"]["metadata_location"],
                        pointers["parameters"].get("previous_metadata_location"))

        catalog = self._lake_catalog(ctx, on_commit=add_version)
        for _ in range(COMMIT_ATTEMPTS):
            table = self._load_iceberg(catalog, database, name)
            evolved.append(_evolved(table.schema(), wanted, comments))
            if not _same_schema(table.schema(), evolved[-1]):
                try:
                    with _iceberg_errors(f"{database}.{name}"):
                        _apply_schema(table, evolved[-1])
                except CommitFailedException:
                    continue
            if not new_version:
                self._writing(add_version_only)
            return UpdateTableResponse(version_id=str(new_version[-1]))
        raise _lost_race(database, name)

    def _forget_iceberg(self, ctx: CallContext, session: Session, database: str, name: str) -> None:
        """DeleteTable: drop the table's Iceberg entry in the same transaction as its Glue row."""
        self._lake_catalog(ctx).forget(session, _identifier(database, name))

    # -- loading and committing ------------------------------------------------------------

    def _load_iceberg(self, catalog: LakeCatalog, database: str, name: str) -> IcebergTable:
        """The managed table ``database.name`` as pyiceberg sees it now."""
        from pyiceberg.exceptions import NoSuchTableError

        with self._reading() as session:
            row = self._table(session, database, name)
            parameters = loads(self._version_row(session, row).document).get("parameters", {})
        if not is_iceberg(parameters):
            raise InvalidInputException(
                f"table {database}.{name} is an external table over files; only managed (Iceberg) tables "
                "take data operations (create one with OpenTableFormatInput "
                '{"IcebergInput": {"MetadataOperation": "CREATE"}})'
            )
        try:
            return catalog.load_table(_identifier(database, name))
        except NoSuchTableError:
            raise EntityNotFoundException(
                f"table {database}.{name} has no Iceberg metadata in the catalog; delete it and create it again"
            ) from None
        except FileNotFoundError as exc:
            raise EntityNotFoundException(
                f"table {database}.{name}: its Iceberg metadata file is missing from the lake ({exc})"
            ) from exc

    def _commit(self, ctx: CallContext, database: str, name: str,
                change: Callable[[IcebergTable, dict[str, str]], None]) -> tuple[IcebergTable, list[Snapshot]]:
        """Run ``change(table, snapshot_properties)``, which commits; return the table after it and the
        snapshots it added (tagged with the request id, so a rival's snapshots are not counted)."""
        from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, ValidationException

        from crispml.services.catalog.iceberg_locks import commit_lock

        tags = {REQUEST_TAG: ctx.request_id, PRINCIPAL_TAG: ctx.principal}
        try:
            # under the table's commit lock, from reading its state to moving its pointer: no rival commits
            # in between, so the change is built on the newest state and its swap cannot lose
            with commit_lock(self.db, _identifier(database, name)):
                table = self._load_iceberg(self._lake_catalog(ctx), database, name)
                with _iceberg_errors(f"{database}.{name}"):
                    change(table, tags)
        except (CommitFailedException, ValidationException) as exc:
            raise ConcurrentModificationException(
                f"table {database}.{name} was changed by other writers while this change was committing and it "
                f"could not be applied on top of theirs ({exc}); repeat it"
            ) from exc
        except NoSuchTableError:
            raise EntityNotFoundException(f"table {database}.{name} was deleted during the operation") from None
        ours = [s for s in table.snapshots() if s.summary is not None
                and s.summary.additional_properties.get(REQUEST_TAG) == ctx.request_id]
        return table, ours


def total_records(table: IcebergTable) -> int:
    """The rows of a table's current snapshot (0 with none)."""
    current = table.current_snapshot()
    if current is None or current.summary is None:
        return 0
    return int(current.summary.additional_properties.get("total-records", 0))


def _lost_race(database: str, name: str) -> ConcurrentModificationException:
    return ConcurrentModificationException(
        f"table {database}.{name} was changed by other writers {COMMIT_ATTEMPTS} times while this change was "
        "committing; repeat it"
    )


def _document(given: TableInput, schema: Schema) -> dict[str, Any]:
    """The Glue document of a managed table: as given, with column types as the Iceberg schema holds them."""
    document = given.model_dump(mode="json")
    sd = given.storage_descriptor
    comments = {c.name: c.comment for c in [*sd.columns, *given.partition_keys]}
    document["storage_descriptor"]["columns"] = [
        c.model_dump(mode="json") for c in _columns(schema, sd.columns, comments)]
    document["partition_keys"] = [c.model_dump(mode="json") for c in _columns(schema, given.partition_keys, comments)]
    document["parameters"] = {k: v for k, v in given.parameters.items() if k not in _POINTERS}
    return document


def _columns(schema: Schema, columns: list[Column], comments: dict[str, str | None]) -> list[Column]:
    from crispml.services.catalog.iceberg_types import glue_columns

    return glue_columns(schema, [c.name for c in columns], comments)


def _with_pointers(document: dict[str, Any], location: str, previous: str | None) -> str:
    parameters = {k: v for k, v in document.get("parameters", {}).items() if k not in _POINTERS}
    parameters["metadata_location"] = location
    if previous:
        parameters["previous_metadata_location"] = previous
    return dumps({**document, "parameters": parameters})


def _check_unchanged(table: str, current: dict[str, Any], given: TableInput) -> None:
    """A managed table keeps its location and its partition keys."""
    location = current.get("storage_descriptor", {}).get("location")
    if given.storage_descriptor.location != location:
        raise InvalidInputException(
            f"table {table} is an Iceberg table at {location}; its location cannot change "
            f"(asked: {given.storage_descriptor.location})"
        )
    keys = [k["name"] for k in current.get("partition_keys", [])]
    if [k.name for k in given.partition_keys] != keys:
        raise InvalidInputException(
            f"table {table} is an Iceberg table partitioned by ({', '.join(keys) or 'nothing'}); its partition "
            "keys cannot change"
        )


def _evolved(current: Schema, wanted: list[tuple[str, Any]], comments: dict[str, str | None]) -> Schema:
    """The schema UpdateTable asks for, checked against what Iceberg can evolve to (nothing committed).

    Columns keep their field ids; new ones get the next ids; a column given
    without a comment keeps the one it has.
    """
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    from crispml.services.catalog.iceberg_types import hive_type

    by_name = {f.name: f for f in current.fields}
    fields = []
    next_id = current.highest_field_id + 1
    for name, found in wanted:
        old = by_name.get(name)
        if old is None:
            fields.append(NestedField(next_id, name, found, required=False, doc=comments.get(name)))
            next_id += 1
            continue
        old_type, new_type = hive_type(old.field_type), hive_type(found)
        if old_type != new_type:
            if not (old.field_type.is_primitive and found.is_primitive):
                raise InvalidInputException(
                    f"column {name!r} cannot change from {old_type} to {new_type}: nested types do not change in "
                    "place; add a new column instead"
                )
            if not widens(old.field_type, found):
                raise InvalidInputException(
                    f"column {name!r} cannot change from {old_type} to {new_type}: Iceberg only widens int to "
                    "bigint, float to double and decimal(p,s) to decimal(P,s) with P > p; add a new column instead"
                )
        doc = comments.get(name)
        fields.append(NestedField(old.field_id, name, found if old_type != new_type else old.field_type,
                                  required=old.required, doc=doc if doc is not None else old.doc))
    return Schema(*fields)


def widens(old: Any, new: Any) -> bool:
    """Iceberg's allowed type promotions (spec, "Schema Evolution"). Written out here because pyiceberg's
    ``promote`` resolves file types on read and allows more (string ↔ binary, a decimal's scale change)."""
    from pyiceberg.types import DecimalType, DoubleType, FloatType, IntegerType, LongType

    if isinstance(old, IntegerType):
        return isinstance(new, LongType)
    if isinstance(old, FloatType):
        return isinstance(new, DoubleType)
    if isinstance(old, DecimalType) and isinstance(new, DecimalType):
        return new.scale == old.scale and new.precision > old.precision
    return False


def _same_schema(current: Schema, wanted: Schema) -> bool:
    from crispml.services.catalog.iceberg_types import hive_type

    def shape(schema: Schema) -> list[tuple[str, str, str | None]]:
        return [(f.name, hive_type(f.field_type), f.doc) for f in schema.fields]

    return shape(current) == shape(wanted)


def _apply_schema(table: IcebergTable, wanted: Schema) -> None:
    """Commit the schema change: drops, adds, widenings, comments, then the asked column order."""
    from crispml.services.catalog.iceberg_types import hive_type

    current = {f.name: f for f in table.schema().fields}
    names = [f.name for f in wanted.fields]
    with table.update_schema() as update:
        for name in current:
            if name not in names:
                update.delete_column(name)
        for field in wanted.fields:
            old = current.get(field.name)
            if old is None:
                update.add_column(field.name, field.field_type, doc=field.doc)
                continue
            changed_type = field.field_type if hive_type(old.field_type) != hive_type(field.field_type) else None
            update.update_column(field.name, field_type=changed_type, doc=field.doc if field.doc != old.doc else None)
        order = [n for n in current if n in names] + [n for n in names if n not in current]
        if order != names:
            update.move_first(names[0])
            for before, name in pairwise(names):
                update.move_after(name, before)
