"""Registry requests and responses: SageMaker's operations and fields, in snake_case.

Checked here, once, with SageMaker's limits: model names are 1-63 letters,
digits and hyphens (``^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$``), model
package group names the same (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$``); a
version is named by its ARN (``arn:aws:sagemaker:…:model-package/<group>/<n>``)
or by ``<group>/<n>``; at most 50 tags and 50 customer metadata properties
(keys 1-128 characters, values up to 256); descriptions up to 1,024
characters; a model card's content is a JSON object. What needs the platform —
does the image exist, is the artifact there, did the training job complete —
is checked by the operation.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from crispml.services.registry.entities import (
    ContainerDefinition,
    InferenceSpecification,
    Model,
    ModelApprovalStatus,
    ModelCard,
    ModelMetrics,
    ModelPackage,
    ModelPackageGroup,
    ModelPackageGroupSummary,
    ModelPackageLineage,
    ModelPackageSummary,
    ModelSummary,
    SortOrder,
    Tag,
)
from crispml.services.registry.errors import ValidationException
from crispml.spine.models import Request, Response

_MODEL_NAME = re.compile(r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_PACKAGE = re.compile(r"^(?:arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:model-package/)?"
                      r"(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>[0-9]{1,9})$")
_GROUP_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:model-package-group/(?P<group>.+)$")


def check_model_name(name: str) -> str:
    if len(name) > 63 or not _MODEL_NAME.match(name):
        raise ValidationException(f"model name {name!r} must be 1-63 letters, digits or hyphens, starting and "
                                  "ending with a letter or digit")
    return name


def check_group_name(name: str) -> str:
    """A group's name, given as such or as its ARN."""
    arn = _GROUP_ARN.match(name)
    if arn:
        name = arn.group("group")
    if not _GROUP_NAME.match(name):
        raise ValidationException(f"model package group name {name!r} must be 1-63 letters, digits or hyphens, "
                                  "starting and ending with a letter or digit")
    return name


def _check_package(name: str) -> str:
    parse_package_name(name)
    return name


def parse_package_name(name: str) -> tuple[str, int]:
    """``(group, version)`` of a version named by its ARN or as ``group/version``."""
    found = _PACKAGE.match(name.strip())
    if not found or int(found.group("version")) < 1:
        raise ValidationException(
            f"model package {name!r} is not a version: name it by its ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>) or as <group>/<version>")
    return found.group("group"), int(found.group("version"))


#: Names checked as SageMaker checks them: a model's; a group's (or its ARN, given as the name); a version's ARN
#: (or ``group/version``).
ModelName = Annotated[str, AfterValidator(check_model_name)]
GroupName = Annotated[str, AfterValidator(check_group_name)]
PackageName = Annotated[str, AfterValidator(_check_package)]


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 50:
        raise ValidationException(f"at most 50 customer metadata properties, not {len(value)}")
    for key, item in value.items():
        if not 0 < len(key) <= 128 or len(item) > 256:
            raise ValidationException(f"customer metadata property {key[:40]!r}: keys are 1-128 characters and "
                                      "values at most 256")
    return value


def _check_card(card: ModelCard | None) -> ModelCard | None:
    if card is not None:
        try:
            content = json.loads(card.model_card_content)
        except ValueError as exc:
            raise ValidationException(f"ModelCardContent must be a JSON document ({exc})") from exc
        if not isinstance(content, dict):
            raise ValidationException("ModelCardContent must be a JSON object (intended_uses, training_details, "
                                      "evaluation_details, additional_information …)")
    return card


class _Listing(Request):
    name_contains: str | None = Field(None, max_length=63)
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    sort_by: Literal["Name", "CreationTime"] = "CreationTime"
    sort_order: SortOrder = "Descending"
    max_results: int = Field(10, ge=1, le=100)
    next_token: str | None = None


class EmptyResponse(Response):
    """The answer of an operation that returns nothing."""


# -- models --------------------------------------------------------------------


class CreateModelRequest(Request):
    model_name: ModelName
    primary_container: ContainerDefinition
    execution_role_arn: str | None = Field(None, max_length=2048,
                                           description="Accepted for SageMaker compatibility; the model serves "
                                                       "as its caller.")
    tags: list[Tag] = Field(default_factory=list, max_length=50)


    @model_validator(mode="after")
    def _container(self) -> CreateModelRequest:
        container = self.primary_container
        if container.model_package_name is not None:
            if container.image is not None or container.model_data_url is not None:
                raise ValidationException("PrimaryContainer: give ModelPackageName, or Image and ModelDataUrl, "
                                          "not both")
            parse_package_name(container.model_package_name)
        elif container.image is None or container.model_data_url is None:
            raise ValidationException("PrimaryContainer needs Image (a built-in algorithm or a framework) and "
                                      "ModelDataUrl (the model.tar.gz), or ModelPackageName")
        return self


class CreateModelResponse(Response):
    model_arn: str


class ModelRequest(Request):
    model_name: ModelName



class DescribeModelResponse(Model, Response):
    """A model, as DescribeModel returns it."""


class ListModelsRequest(_Listing):
    """ListModels: the shared filters, sorting and paging."""


class ListModelsResponse(Response):
    models: list[ModelSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"models": ["model_name", "creation_time"]}


# -- model package groups ------------------------------------------------------


class CreateModelPackageGroupRequest(Request):
    model_package_group_name: GroupName
    model_package_group_description: str | None = Field(None, max_length=1024)
    tags: list[Tag] = Field(default_factory=list, max_length=50)



class CreateModelPackageGroupResponse(Response):
    model_package_group_arn: str


class ModelPackageGroupRequest(Request):
    model_package_group_name: GroupName = Field(description="The group's name or ARN.")



class DescribeModelPackageGroupResponse(ModelPackageGroup, Response):
    """A group, as DescribeModelPackageGroup returns it."""


class ListModelPackageGroupsRequest(_Listing):
    """ListModelPackageGroups: the shared filters, sorting and paging."""


class ListModelPackageGroupsResponse(Response):
    model_package_group_summary_list: list[ModelPackageGroupSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"model_package_group_summary_list": [
        "model_package_group_name", "model_package_group_description", "creation_time"]}


# -- model packages (versions) -------------------------------------------------


class CreateModelPackageRequest(Request):
    model_package_group_name: GroupName = Field(description="The group the version joins (name or ARN).")
    model_package_description: str | None = Field(None, max_length=1024)
    inference_specification: InferenceSpecification | None = Field(
        None, description="Default, with SourceTrainingJobName: the training job's image and model artifact.")
    model_approval_status: ModelApprovalStatus = "PendingManualApproval"
    model_metrics: ModelMetrics | None = None
    customer_metadata_properties: dict[str, str] = Field(default_factory=dict)
    model_card: ModelCard | None = None
    domain: str | None = Field(None, max_length=256)
    task: str | None = Field(None, max_length=256)
    source_training_job_name: str | None = Field(
        None, description="crispml: the (Completed) training job the version comes from; its lineage is copied.")
    tags: list[Tag] = Field(default_factory=list, max_length=50)


    @field_validator("customer_metadata_properties")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_metadata(value)

    @field_validator("model_card")
    @classmethod
    def _card(cls, value: ModelCard | None) -> ModelCard | None:
        return _check_card(value)

    @model_validator(mode="after")
    def _source(self) -> CreateModelPackageRequest:
        if self.inference_specification is None and self.source_training_job_name is None:
            raise ValidationException("a model package needs InferenceSpecification (its containers), or "
                                      "SourceTrainingJobName to take them from a training job")
        return self


class CreateModelPackageResponse(Response):
    model_package_arn: str


class ModelPackageRequest(Request):
    model_package_name: PackageName = Field(description="The version's ARN, or '<group>/<version>'.")



class DescribeModelPackageResponse(ModelPackage, Response):
    """A version, as DescribeModelPackage returns it."""


class ListModelPackagesRequest(_Listing):
    model_package_group_name: GroupName | None = None
    model_approval_status: ModelApprovalStatus | None = None
    model_package_type: Literal["Versioned", "Unversioned", "Both"] = "Both"


class ListModelPackagesResponse(Response):
    model_package_summary_list: list[ModelPackageSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"model_package_summary_list": [
        "model_package_group_name", "model_package_version", "model_approval_status", "creation_time"]}


class UpdateModelPackageRequest(Request):
    model_package_arn: PackageName = Field(description="The version's ARN, or '<group>/<version>'.")
    model_approval_status: ModelApprovalStatus | None = None
    approval_description: str | None = Field(None, max_length=1024)
    customer_metadata_properties: dict[str, str] = Field(default_factory=dict)
    customer_metadata_properties_to_remove: list[str] = Field(default_factory=list)
    model_card: ModelCard | None = None


    @field_validator("customer_metadata_properties")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_metadata(value)

    @field_validator("model_card")
    @classmethod
    def _card(cls, value: ModelCard | None) -> ModelCard | None:
        return _check_card(value)


class UpdateModelPackageResponse(Response):
    model_package_arn: str


class GetModelPackageLineageResponse(Response):
    """crispml: a version's lineage — its training job, the inputs it read, its code and hyperparameters."""

    model_package_arn: str
    model_package_group_name: str
    model_package_version: int
    model_approval_status: ModelApprovalStatus
    lineage: ModelPackageLineage | None = Field(None, description="None for a version registered without a "
                                                                  "training job.")
