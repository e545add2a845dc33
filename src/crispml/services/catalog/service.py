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
  such API) change and show them; ``iceberg.plan_scan`` gives the query engine
  the files of a snapshot (time travel).

Crawlers (``crawlers.py``, ``crawl.py``) and their custom classifiers
(``classifiers.py``) keep external tables in line with the files by calling the
catalog's own operations as the caller.
"""

from __future__ import annotations

from crispml.services.catalog.crawlers import CrawlerOps
from crispml.services.catalog.databases import DatabaseOps
from crispml.services.catalog.managed_ops import ManagedDataOps
from crispml.services.catalog.partitions import PartitionOps
from crispml.services.catalog.tables import TableOps
from crispml.services.catalog.versions import VersionOps
from crispml.spine.operations import Service


class CatalogService(Service, DatabaseOps, TableOps, VersionOps, PartitionOps, CrawlerOps, ManagedDataOps):
    name = "catalog"
