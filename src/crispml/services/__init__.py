"""The services, one subpackage each (lake, iam, audit, monitoring, …)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

#: Modules that declare tables; imported by :func:`load_models`.
MODEL_MODULES = (
    "crispml.services.iam.store",
    "crispml.services.audit.store",
    "crispml.services.lake.store",
    "crispml.services.catalog.store",
    "crispml.services.catalog.crawler_store",
    "crispml.services.catalog.iceberg_store",
    "crispml.services.query.store",
    "crispml.services.streams.store",
    "crispml.services.firehose.store",
    "crispml.services.ingest.store",
)


def load_models() -> MetaData:
    """Import every service's tables and return the one shared metadata."""
    from crispml.core.metadb.base import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
