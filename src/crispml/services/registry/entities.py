"""Registry value objects: SageMaker's shapes in snake_case (AWS PascalCase accepted as input).

The request shapes (``ContainerDefinition``, ``InferenceSpecification``,
``ModelMetrics``, ``ModelCard`` …) come back unchanged in the Describe
operations, so they are defined once here; the checks a request must pass live
in ``specs.py``. crispml's additions are marked: the lineage a version copies
from its training job, and the approval history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crispml.spine.models import Shape

ModelApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]
ModelCardStatus = Literal["Draft", "PendingReview", "Approved", "Archived"]
SortOrder = Literal["Ascending", "Descending"]


class Tag(Shape):
    key: str = Field(min_length=1, max_length=128)
    value: str = Field("", max_length=256)


class ContainerDefinition(Shape):
    image: str | None = Field(
        None, description="A built-in algorithm ('xgboost', 'linear-learner', …) or a framework ('sklearn', 'python', "
                          "a SageMaker framework image URI) serving a script, as a training job's TrainingImage.")
    model_data_url: str | None = Field(None, description="The model.tar.gz: 'lake://bucket/key' ('s3://' names the "
                                                         "same lake).")
    environment: dict[str, str] = Field(
        default_factory=dict, description="A script model names its entry point in SAGEMAKER_PROGRAM and its code "
                                          "(a lake:// sourcedir.tar.gz) in SAGEMAKER_SUBMIT_DIRECTORY.")
    model_package_name: str | None = Field(
        None, description="CreateModel: a model package version (ARN or 'group/version') whose container to use.")


class ModelPackageContainerDefinition(Shape):
    image: str = Field(description="A built-in algorithm or a framework serving a script, as in CreateModel.")
    model_data_url: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None


class InferenceSpecification(Shape):
    containers: list[ModelPackageContainerDefinition] = Field(min_length=1, max_length=15)
    supported_content_types: list[str] = Field(default_factory=list)
    supported_response_mime_types: list[str] = Field(default_factory=list, alias="SupportedResponseMIMETypes")
    supported_realtime_inference_instance_types: list[str] = Field(default_factory=list)
    supported_transform_instance_types: list[str] = Field(default_factory=list)


class MetricsSource(Shape):
    content_type: str = Field(max_length=256)
    s3_uri: str = Field(max_length=1024)
    content_digest: str | None = Field(None, max_length=72)


class ModelQuality(Shape):
    statistics: MetricsSource | None = None
    constraints: MetricsSource | None = None


class ModelDataQuality(Shape):
    statistics: MetricsSource | None = None
    constraints: MetricsSource | None = None


class Bias(Shape):
    report: MetricsSource | None = None


class Explainability(Shape):
    report: MetricsSource | None = None


class ModelMetrics(Shape):
    model_quality: ModelQuality | None = None
    model_data_quality: ModelDataQuality | None = None
    bias: Bias | None = None
    explainability: Explainability | None = None


class ModelCard(Shape):
    """SageMaker's model card of a version: its content is a JSON document (intended uses, training details,
    evaluation details, additional information such as limitations), as a string."""

    model_card_content: str = Field(max_length=100_000)
    model_card_status: ModelCardStatus = "Draft"


class UserContext(BaseModel):
    user_profile_name: str
    user_profile_arn: str | None = None
    domain_id: str | None = None


class ApprovalChange(BaseModel):
    """crispml: one change of a version's approval status — who, when, from what to what, and why."""

    model_approval_status: ModelApprovalStatus
    previous_status: ModelApprovalStatus | None
    approval_description: str | None = None
    changed_by: str
    change_time: datetime


class PinnedFile(BaseModel):
    uri: str
    e_tag: str
    size: int


class InputLineage(BaseModel):
    """What one channel of the training job read: a table's snapshot, or files with their ETags."""

    channel_name: str
    source: str
    snapshot_id: int | None = None
    files: list[PinnedFile] = Field(default_factory=list)
    rows: int | None = None


class TrainingMetric(BaseModel):
    metric_name: str
    value: float


class ModelPackageLineage(BaseModel):
    """crispml: where a version comes from — its training job, the exact inputs, code and hyperparameters."""

    training_job_name: str
    training_job_arn: str
    algorithm: str
    model_data_url: str | None = None
    inputs: list[InputLineage] = Field(default_factory=list)
    code_sha256: str | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    final_metrics: list[TrainingMetric] = Field(default_factory=list)
    training_end_time: datetime | None = None


class Model(BaseModel):
    model_name: str
    model_arn: str
    primary_container: ContainerDefinition
    execution_role_arn: str | None = None
    creation_time: datetime
    tags: list[Tag] = Field(default_factory=list)


class ModelSummary(BaseModel):
    model_name: str
    model_arn: str
    creation_time: datetime


class ModelPackageGroup(BaseModel):
    model_package_group_name: str
    model_package_group_arn: str
    model_package_group_description: str | None = None
    creation_time: datetime
    created_by: UserContext
    model_package_group_status: Literal["Pending", "InProgress", "Completed", "Failed", "Deleting",
                                        "DeleteFailed"] = "Completed"


class ModelPackageGroupSummary(BaseModel):
    model_package_group_name: str
    model_package_group_arn: str
    model_package_group_description: str | None = None
    creation_time: datetime
    model_package_group_status: str = "Completed"


class ModelPackage(BaseModel):
    model_package_name: str
    model_package_group_name: str
    model_package_version: int
    model_package_arn: str
    model_package_description: str | None = None
    creation_time: datetime
    inference_specification: InferenceSpecification
    model_package_status: Literal["Pending", "InProgress", "Completed", "Failed", "Deleting"] = "Completed"
    model_approval_status: ModelApprovalStatus
    approval_description: str | None = None
    created_by: UserContext
    last_modified_time: datetime
    last_modified_by: UserContext
    model_metrics: ModelMetrics | None = None
    customer_metadata_properties: dict[str, str] = Field(default_factory=dict)
    model_card: ModelCard | None = None
    domain: str | None = None
    task: str | None = None
    source_training_job_name: str | None = Field(None, description="crispml: the training job it comes from.")
    approval_history: list[ApprovalChange] = Field(default_factory=list, description="crispml: every change.")


class ModelPackageSummary(BaseModel):
    model_package_name: str
    model_package_group_name: str
    model_package_version: int
    model_package_arn: str
    model_package_description: str | None = None
    creation_time: datetime
    model_package_status: str = "Completed"
    model_approval_status: ModelApprovalStatus
