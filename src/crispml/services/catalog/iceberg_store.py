"""pyiceberg's SQL catalog tables (``iceberg_tables``, ``iceberg_namespace_properties``) as crispml models.

pyiceberg's ``SqlCatalog`` keeps each Iceberg table's current metadata file in
``iceberg_tables`` (its pointer swap is the commit) and namespace properties
in ``iceberg_namespace_properties``. They live in the metadata DB next to the
catalog's own tables, created by migration 0004 rather than by pyiceberg at
run time. The definitions here are not written out by hand: they are copies of
pyiceberg's own table objects, so the models, pyiceberg and the migration
(checked against the models in tests/core/test_metadb.py) cannot drift apart
silently — a pyiceberg upgrade that changes its schema fails that test.
"""

from __future__ import annotations

from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables
from sqlalchemy import Table

from crispml.core.metadb.base import Base

ICEBERG_TABLES: Table = IcebergTables.__table__.to_metadata(Base.metadata)  # type: ignore[attr-defined]
ICEBERG_NAMESPACE_PROPERTIES: Table = IcebergNamespaceProperties.__table__.to_metadata(  # type: ignore[attr-defined]
    Base.metadata)
