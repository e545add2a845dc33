"""pyiceberg on crispml: its SQL catalog in the metadata DB, its files in the lake, as one caller.

:class:`LakeFileIO` is pyiceberg's fsspec FileIO over the lake's filesystem
(``lake://bucket/key``) acting as the caller of the current operation, so
every metadata, manifest and data file that pyiceberg reads or writes is a lake
operation of that caller — authorized, audited, encrypted like any other. It
serves ``lake://`` only: an Iceberg file anywhere else is refused.

:class:`LakeCatalog` is pyiceberg's ``SqlCatalog`` with four changes, each
because the library has no setting for it:

- it runs on the platform's own engine (SQLite pragmas, connection pool)
  instead of opening one per catalog, and never creates its tables: migration
  0004 does (pyiceberg's ``init_catalog_tables`` probe is skipped altogether);
- every file goes through the caller's :class:`LakeFileIO` — pyiceberg's
  ``SqlCatalog`` builds a FileIO from properties in two places
  (``_convert_orm_to_iceberg``, ``create_table``), which could not carry a caller;
- a commit swaps the table's metadata pointer *and* runs a hook in the same
  transaction, so the Glue table's ``metadata_location`` parameter moves with
  the pointer and can never lag it (a crash leaves both at the old commit),
  under the table's commit lock (``iceberg_locks.py``), so swaps are one at a time;
- tables are created by :meth:`LakeCatalog.create` with the same hook, so the
  Glue table row and the Iceberg row appear together or not at all.

Namespaces are the Glue databases; no namespace properties are written (a
namespace exists in pyiceberg's eyes while it holds a table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractFileSystem
from pyiceberg.catalog import Catalog, MetastoreCatalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.io import FileIO
from pyiceberg.io.fsspec import FsspecFileIO
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties
from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from crispml.core.metadb.engine import Database
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.iceberg_locks import commit_lock

if TYPE_CHECKING:
    from crispml.services.lake.service import LakeFileSystem

#: The pyiceberg catalog name under which crispml keeps its Iceberg tables.
CATALOG_NAME = "crispml"

#: Runs inside the transaction of a commit: (session, (database, table), new metadata file, previous one).
CommitHook = Callable[[Session, tuple[str, str], str, "str | None"], None]


class LakeFileIO(FsspecFileIO):
    """pyiceberg's FileIO over ``lake://``, acting as one caller (the lake filesystem it is given)."""

    def __init__(self, fs: LakeFileSystem, properties: Properties = EMPTY_DICT) -> None:
        super().__init__(properties=dict(properties))
        self.fs = fs

    def _get_fs(self, scheme: str, hostname: str | None = None) -> AbstractFileSystem:
        if scheme != "lake":
            raise ValueError(f"Iceberg files of crispml live in the lake (lake://bucket/key), not on {scheme!r}")
        return self.fs


class LakeCatalog(SqlCatalog):
    """pyiceberg's SQL catalog on the metadata DB, reading and writing the lake through ``fs`` (as its caller)."""

    def __init__(self, db: Database, fs: LakeFileSystem, on_commit: CommitHook) -> None:
        MetastoreCatalog.__init__(self, CATALOG_NAME)
        self.engine = db.engine
        self._db = db
        self._schema_version = "v1"  # migration 0004 made the tables, with iceberg_type
        self._io = LakeFileIO(fs)
        self.on_commit = on_commit

    def _load_file_io(self, properties: Properties = EMPTY_DICT, location: str | None = None) -> FileIO:
        return self._io

    def _convert_orm_to_iceberg(self, orm_table: IcebergTables) -> Table:
        location = orm_table.metadata_location
        if not location:
            raise NoSuchTableError(f"Iceberg table {orm_table.table_namespace}.{orm_table.table_name} has no metadata")
        return Table(
            identifier=(orm_table.table_namespace, orm_table.table_name),
            metadata=FromInputFile.table_metadata(self._io.new_input(location)),
            metadata_location=location, io=self._io, catalog=self,
        )

    def create(self, identifier: tuple[str, str], schema: Schema, location: str, spec: PartitionSpec,
               properties: dict[str, str], also: Callable[[Session, str], None]) -> str:
        """Write a new table's first metadata file, then register it and run ``also(session, metadata_file)``
        in one transaction; return the metadata file's location."""
        namespace, name = identifier
        provider = load_location_provider(table_location=location, table_properties=properties)
        metadata_location = provider.new_table_metadata_file_location()
        metadata = new_table_metadata(location=location, schema=schema, partition_spec=spec,
                                      sort_order=UNSORTED_SORT_ORDER, properties=properties)
        self._write_metadata(metadata, self._io, metadata_location)
        with self._db.write() as session:
            # an entry left by a deleted database has no Glue table any more: the new table replaces it
            session.execute(delete(IcebergTables).where(*self._key(namespace, name)))
            session.execute(insert(IcebergTables).values(**self._create_table_row(namespace, name, metadata_location)))
            also(session, metadata_location)
        return metadata_location

    def forget(self, session: Session, identifier: tuple[str, str]) -> None:
        """Drop a table's entry inside the caller's transaction (its files stay in the lake)."""
        session.execute(delete(IcebergTables).where(*self._key(*identifier)))

    def _key(self, namespace: str, name: str) -> list[Any]:
        return [IcebergTables.catalog_name == self.name, IcebergTables.table_namespace == namespace,
                IcebergTables.table_name == name]

    def commit_table(self, table: Table, requirements: tuple[TableRequirement, ...],
                     updates: tuple[TableUpdate, ...]) -> CommitTableResponse:
        """Commit updates: write the new metadata file, then swap the pointer if no one else did first."""
        identifier = table.name()
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        name = Catalog.table_name_from(identifier)
        with commit_lock(self._db, (namespace, name)):  # one swap at a time (a data commit holds it already)
            current = self.load_table(identifier)  # NoSuchTableError if it was dropped meanwhile
            staged = self._update_and_stage_table(current, identifier, requirements, updates)
            if staged.metadata == current.metadata:
                return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)
            self._write_metadata(staged.metadata, self._io, staged.metadata_location)
            with self._db.write() as session:
                swapped = session.execute(
                    update(IcebergTables)
                    .where(*self._key(namespace, name), IcebergTables.metadata_location == current.metadata_location)
                    .values(metadata_location=staged.metadata_location,
                            previous_metadata_location=current.metadata_location))
                if swapped.rowcount < 1:  # type: ignore[attr-defined]
                    raise CommitFailedException(f"Table has been updated by another process: {namespace}.{name}")
                self.on_commit(session, (namespace, name), staged.metadata_location, current.metadata_location)
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    def create_table(self, identifier: str | Identifier, schema: Any, location: str | None = None,
                     partition_spec: Any = None, sort_order: Any = None, properties: Properties = EMPTY_DICT,
                     ) -> Table:
        """Refused: a table made here would have no Glue table row; :meth:`create` makes both at once."""
        raise InvalidInputException(
            f"Iceberg table {identifier!r} must be created with the catalog's CreateTable operation "
            '(OpenTableFormatInput {"IcebergInput": {"MetadataOperation": "CREATE"}}), which registers it in Glue too')

    def close(self) -> None:
        """Nothing to release: the engine is the platform's."""
