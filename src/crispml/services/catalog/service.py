"""The catalog service (Glue Data Catalog): one class combining the operation groups.

Databases (``databases.py``), tables (``tables.py``), their versions
(``versions.py``) and partitions (``partitions.py``) share the helpers in
``core.py``. Tables are of two kinds, as in Glue and Athena:

- *external* tables describe files in the lake (csv, json lines, parquet); the
  catalog holds their definitions only and never reads the files (the query
  service does);
- *managed* tables are Apache Iceberg tables (``managed.py``): pyiceberg's SQL
  catalog lives in the metadata DB (``iceberg_store.py``, ``iceberg_catalog.py``)
  and their data and metadata files in the lake, read and written as the
  caller. crispml's data operations ``AppendTableData``, ``OverwriteTableData``,
  ``DeleteTableData`` and ``GetTableSnapshots`` (``managed_ops.py``; Glue has no
  such API) change and show them.

Crawlers (``crawlers.py``, ``crawl.py``) and their custom classifiers
(``classifiers.py``) keep external tables in line with the files by calling the
catalog's own operations as the caller.

Besides its operations, the catalog offers other services two typed
interfaces, each acting as the caller it is given: :meth:`CatalogService.plan_scan`
(the files of a managed table's snapshot, for the query engine's reads and time
travel) and :meth:`CatalogService.arrow_schema` (the Arrow schema of a table's
rows, for loads that write it). The request and response models, entities and
errors other services use are exported here; nothing else of the catalog is
theirs to import.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crispml.core.context import CallContext
from crispml.core.errors import InvalidInputException
from crispml.services.catalog.crawler_specs import (
    ClassifierRequest,
    CrawlerRequest,
    CreateClassifierRequest,
    CreateCrawlerRequest,
    GetClassifiersRequest,
    GetCrawlerMetricsRequest,
    GetCrawlersRequest,
    ListCrawlsRequest,
    UpdateCrawlerRequest,
)
from crispml.services.catalog.crawlers import CrawlerOps
from crispml.services.catalog.databases import DatabaseOps
from crispml.services.catalog.entities import Column, Partition, Table
from crispml.services.catalog.managed import (
    REQUEST_TAG,
)
from crispml.services.catalog.managed_ops import ManagedDataOps
from crispml.services.catalog.managed_rewrite import ManagedRewriteOps
from crispml.services.catalog.managed_specs import (
    AppendTableDataRequest,
    DeleteTableDataRequest,
    ExpireTableSnapshotsRequest,
    GetTableSnapshotsRequest,
    OverwriteTableDataRequest,
    RewriteTableDataRequest,
)
from crispml.services.catalog.partitions import PartitionOps
from crispml.services.catalog.specs import (
    BatchCreatePartitionRequest,
    BatchDeletePartitionRequest,
    CreateDatabaseRequest,
    CreatePartitionRequest,
    CreateTableRequest,
    DatabaseRequest,
    GetDatabasesRequest,
    GetPartitionsRequest,
    GetTablesRequest,
    GetTableVersionsRequest,
    IcebergInput,
    OpenTableFormatInput,
    PartitionInput,
    PartitionRequest,
    TableInput,
    TableRequest,
    TableVersionRequest,
    UpdateTableRequest,
)
from crispml.services.catalog.tables import TableOps
from crispml.services.catalog.versions import VersionOps
from crispml.services.lake.service import LakeService
from crispml.spine.operations import Service

if TYPE_CHECKING:
    import pyarrow as pa

    # what plan_scan returns (pyiceberg behind it: for annotations here, imported when a scan is planned)
    from crispml.services.catalog.iceberg import DataFileRef as DataFileRef
    from crispml.services.catalog.iceberg import IcebergScan as IcebergScan

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "REQUEST_TAG",
    "AppendTableDataRequest",
    "BatchCreatePartitionRequest",
    "BatchDeletePartitionRequest",
    "CatalogService",
    "ClassifierRequest",
    "Column",
    "CrawlerRequest",
    "CreateClassifierRequest",
    "CreateCrawlerRequest",
    "CreateDatabaseRequest",
    "CreatePartitionRequest",
    "CreateTableRequest",
    "DatabaseRequest",
    "DeleteTableDataRequest",
    "ExpireTableSnapshotsRequest",
    "GetClassifiersRequest",
    "GetCrawlerMetricsRequest",
    "GetCrawlersRequest",
    "GetDatabasesRequest",
    "GetPartitionsRequest",
    "GetTableSnapshotsRequest",
    "GetTableVersionsRequest",
    "GetTablesRequest",
    "IcebergInput",
    "ListCrawlsRequest",
    "OpenTableFormatInput",
    "OverwriteTableDataRequest",
    "Partition",
    "PartitionInput",
    "PartitionRequest",
    "RewriteTableDataRequest",
    "Table",
    "TableInput",
    "TableRequest",
    "TableVersionRequest",
    "UpdateCrawlerRequest",
    "UpdateTableRequest"
]


class CatalogService(Service, DatabaseOps, TableOps, VersionOps, PartitionOps, CrawlerOps, ManagedDataOps,
                     ManagedRewriteOps):
    name = "catalog"

    def plan_scan(self, ctx: CallContext, database: str, table: str, *, snapshot_id: int | None = None,
                  as_of: datetime | None = None) -> IcebergScan:
        """The data files and schema of managed table ``database.table`` now, at ``snapshot_id`` or as of
        ``as_of``, read as ``ctx``'s caller (``catalog:GetTable``, then ``lake:GetObject`` of its metadata).
        EntityNotFoundException for an unknown table or snapshot; InvalidInputException for an external
        table, or for both a snapshot and a time."""
        from crispml.services.catalog.iceberg import plan_scan

        return plan_scan(self, self.peer(LakeService).filesystem(ctx), ctx, database, table,
                         snapshot_id=snapshot_id, as_of=as_of)

    @staticmethod
    def arrow_schema(table: Table) -> pa.Schema:
        """The Arrow schema of a table's rows: its columns, then its partition keys, all nullable, with the
        types the catalog maps its Hive types to. InvalidInputException for a type Arrow cannot hold."""
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        from crispml.services.catalog.iceberg_types import table_schema

        try:
            return schema_to_pyarrow(table_schema(table.storage_descriptor.columns, table.partition_keys),
                                     include_field_ids=False)
        except ValueError as exc:
            raise InvalidInputException(f"table {table.database_name}.{table.name}: {exc}") from exc
