"""The registry service (SageMaker models and Model Registry): one class combining the operations.

- ``CreateModel``, ``DescribeModel``, ``ListModels``, ``DeleteModel``
  (``models.py``): an artifact and the code that serves it.
- ``CreateModelPackageGroup``, ``DescribeModelPackageGroup``,
  ``ListModelPackageGroups``, ``DeleteModelPackageGroup`` (``groups.py``).
- ``CreateModelPackage``, ``DescribeModelPackage``, ``ListModelPackages``,
  ``UpdateModelPackage`` (approval with who and when), ``DeleteModelPackage``
  and crispml's ``GetModelPackageLineage`` (``packages.py``): versions
  numbered from 1 per group, with the lineage of their training job.
- :func:`load_model` (``inference.py``): a model's code in this process, as
  SageMaker's inference toolkit runs it; the SDK's ``client.registry.load``
  fetches an artifact and hands it here.
"""

from __future__ import annotations

from crispml.services.registry.entities import (
    ApprovalChange,
    ContainerDefinition,
    InferenceSpecification,
    InputLineage,
    ModelCard,
    ModelMetrics,
    ModelPackageContainerDefinition,
    ModelPackageLineage,
)
from crispml.services.registry.errors import InvalidInferenceScript, ResourceInUse, ResourceNotFound
from crispml.services.registry.groups import GroupOps
from crispml.services.registry.inference import LoadedModel, load_model
from crispml.services.registry.packages import PackageOps
from crispml.services.registry.specs import (
    CreateModelPackageGroupRequest,
    CreateModelPackageRequest,
    CreateModelRequest,
    ListModelPackageGroupsRequest,
    ListModelPackagesRequest,
    ListModelsRequest,
    ModelPackageGroupRequest,
    ModelPackageRequest,
    ModelRequest,
    UpdateModelPackageRequest,
    parse_package_name,
)
from crispml.spine.operations import Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "ApprovalChange",
    "ContainerDefinition",
    "CreateModelPackageGroupRequest",
    "CreateModelPackageRequest",
    "CreateModelRequest",
    "InferenceSpecification",
    "InputLineage",
    "InvalidInferenceScript",
    "ListModelPackageGroupsRequest",
    "ListModelPackagesRequest",
    "ListModelsRequest",
    "LoadedModel",
    "ModelCard",
    "ModelMetrics",
    "ModelPackageContainerDefinition",
    "ModelPackageGroupRequest",
    "ModelPackageLineage",
    "ModelPackageRequest",
    "ModelRequest",
    "RegistryService",
    "ResourceInUse",
    "ResourceNotFound",
    "UpdateModelPackageRequest",
    "load_model",
    "parse_package_name",
]


class RegistryService(Service, PackageOps, GroupOps):
    """Models, model package groups and versions, approval and lineage (SageMaker Model Registry)."""

    name = "registry"
