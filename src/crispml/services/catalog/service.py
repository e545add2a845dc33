"""The catalog service (Glue Data Catalog): one class combining the operation groups.

Databases (``databases.py``), external tables (``tables.py``), their versions
(``versions.py``) and partitions (``partitions.py``) share the helpers in
``core.py``. The catalog holds definitions only: it never reads or writes the
files a table describes (the query service does), and it has no managed
(Iceberg) tables yet. Crawlers (``crawlers.py``, ``crawl.py``) and their custom
classifiers (``classifiers.py``) keep tables in line with the files by calling
the catalog's own operations as the caller.
"""

from __future__ import annotations

from crispml.services.catalog.crawlers import CrawlerOps
from crispml.services.catalog.databases import DatabaseOps
from crispml.services.catalog.partitions import PartitionOps
from crispml.services.catalog.tables import TableOps
from crispml.services.catalog.versions import VersionOps
from crispml.spine.operations import Service


class CatalogService(Service, DatabaseOps, TableOps, VersionOps, PartitionOps, CrawlerOps):
    name = "catalog"
