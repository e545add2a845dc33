"""The services, one subpackage each (lake, iam, audit, monitoring, …).

:data:`SERVICES` names every service and where its class lives, so that the
platform imports a service (and the libraries behind it) only when it is first
used, and shells can list services without importing any.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import MetaData

#: Every service: name → ``"module:Class"`` of its public ``service.py`` (in the order help lists them).
SERVICES = {
    "iam": "crispml.services.iam.service:IamService",
    "audit": "crispml.services.audit.service:AuditService",
    "lake": "crispml.services.lake.service:LakeService",
    "catalog": "crispml.services.catalog.service:CatalogService",
    "monitoring": "crispml.services.monitoring.service:MonitoringService",
    "query": "crispml.services.query.service:QueryService",
    "streams": "crispml.services.streams.service:StreamsService",
    "ingest": "crispml.services.ingest.service:IngestService",
    "firehose": "crispml.services.firehose.service:FirehoseService",
    "training": "crispml.services.training.service:TrainingService",
    "tuning": "crispml.services.tuning.service:TuningService",
    "evaluation": "crispml.services.evaluation.service:EvaluationService",
    "registry": "crispml.services.registry.service:RegistryService",
    "serving": "crispml.services.serving.service:ServingService",
}

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
    "crispml.services.monitoring.store",
    "crispml.services.training.store",
    "crispml.services.tuning.store",
    "crispml.services.evaluation.store",
    "crispml.services.registry.store",
    "crispml.services.serving.store",
)


def load_models() -> MetaData:
    """Import every service's tables and return the one shared metadata."""
    from crispml.core.metadb.base import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
