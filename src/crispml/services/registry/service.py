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

from pathlib import Path

from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.lake.service import LakeService
from crispml.services.registry.core import get_model, get_package, model_entity
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
from crispml.services.registry.errors import (
    InvalidInferenceScript,
    ResourceInUse,
    ResourceNotFound,
    ValidationException,
)
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

    def container_of(self, ctx: CallContext, name: str) -> tuple[str, str | None, dict[str, str], str | None]:
        """Model ``name`` (or its ARN) or version ``name`` (its ARN, or ``group/version``), as ``ctx``'s caller
        reads it: its image, model data URL, environment and source training job (None for a model)."""
        if name.startswith("arn:") and ":model/" in name:
            name = name.split(":model/", 1)[1]  # a model's ARN: its (lower-cased) name
        if "/" in name:
            package = self.describe_model_package(ctx, ModelPackageRequest(model_package_name=name))
            container = package.inference_specification.containers[0]
            return (container.image, container.model_data_url, dict(container.environment),
                    package.source_training_job_name)
        primary = self.describe_model(ctx, ModelRequest(model_name=name)).primary_container
        assert primary.image is not None
        return primary.image, primary.model_data_url, dict(primary.environment), None

    def unpack_container(self, ctx: CallContext, model_data_url: str | None, environment: dict[str, str],
                         folder: Path) -> tuple[Path, Path | None]:
        """A model's artifact (and a script model's ``SAGEMAKER_SUBMIT_DIRECTORY``) read through the lake as
        ``ctx``'s caller and unpacked under ``folder``: ``(model_dir, code_dir)``, for :func:`load_model`."""
        import io
        import tarfile

        fs = self.peer(LakeService).filesystem(ctx)

        def unpack(uri: str, into: Path) -> Path:
            into.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(fs.cat_file(uri)), mode="r:*") as archive:
                archive.extractall(into, filter="data")
            return into

        model_dir = unpack(model_data_url, folder / "model") if model_data_url else folder / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        code_dir = unpack(submit, folder / "code") if submit and submit.startswith("lake://") else None
        return model_dir, code_dir

    def open_container(self, ctx: CallContext, image: str, model_data_url: str | None, environment: dict[str, str],
                       folder: Path) -> LoadedModel:
        """:meth:`unpack_container` under ``folder`` (the caller removes it), then the model loaded by the
        inference runtime."""
        model_dir, code_dir = self.unpack_container(ctx, model_data_url, environment, folder)
        return load_model(image, model_dir, environment, code_dir)

    def open_model(self, ctx: CallContext, name: str, folder: Path) -> LoadedModel:
        """:meth:`open_container` of model or version ``name`` (see :meth:`container_of`)."""
        image, url, environment, _ = self.container_of(ctx, name)
        return self.open_container(ctx, image, url, environment, folder)

    def use_models(self, endpoint: str, models: list[str]) -> None:
        """Record that ``endpoint`` serves ``models`` (instead of what it served before): DeleteModel refuses
        a model an endpoint serves, naming the endpoint. For the serving service."""
        from sqlalchemy import delete

        from crispml.services.registry.store import ModelUseRow

        def write(session: Session) -> None:
            session.execute(delete(ModelUseRow).where(ModelUseRow.user == endpoint))
            session.add_all(ModelUseRow(model_name=m, user=endpoint) for m in sorted(set(models)))
        self._writing(write)

    def deployable(self, ctx: CallContext, model_name: str) -> None:
        """Refuse a model that cannot be deployed: one that does not exist, or one made from a model package
        version whose approval status is Rejected. For the serving service."""
        with self._reading() as session:
            container = model_entity(get_model(session, model_name)).primary_container
            if container.model_package_name is None:
                return
            package = get_package(session, container.model_package_name)
            if package.approval_status == "Rejected":
                raise ValidationException(
                    f"model {model_name!r} is version {package.group_name}/{package.version}, whose approval "
                    "status is Rejected: a rejected version cannot be deployed; approve it (crispml registry "
                    "update-model-package --model-approval-status Approved) or deploy another version")

    def source_training_job(self, ctx: CallContext, model_name: str | None, package: str | None) -> str | None:
        """The training job a version comes from (None for a model, or a version registered without one)."""
        return self.container_of(ctx, package)[3] if package else None
