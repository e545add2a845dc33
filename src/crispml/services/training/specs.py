"""Training requests and responses: SageMaker's operations and fields, in snake_case.

Checked here, once, with SageMaker's limits: job names are 1-63 letters,
digits and hyphens (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``); at most 100
hyperparameters (keys up to 256 characters, values up to 2,500), 20 channels
with unique names, 40 metric definitions, 100 environment variables and 50
tags; exactly one of ``AlgorithmName`` and ``TrainingImage``; a script job
names its script in ``sagemaker_program``; locations are lake prefixes
(``s3://`` names the same lake) normalised to ``lake://bucket/prefix/``.
What needs the platform — does the algorithm exist, are its hyperparameters in
range, is a channel empty, is the name taken — is checked by the operation.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from crispml.core.hive import check_location
from crispml.services.training.entities import (
    AlgorithmSpecification,
    Channel,
    CheckpointConfig,
    CrossValidation,
    EvaluationConfig,
    OutputDataConfig,
    ResourceConfig,
    StoppingCondition,
    Tag,
    TrainingJob,
    TrainingJobStatus,
    TrainingJobSummary,
)
from crispml.services.training.errors import ValidationException
from crispml.spine.models import Request, Response

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
#: Content types a channel may declare (parameters such as ``;label_size=1`` allowed).
CONTENT_TYPES = ("text/csv", "application/x-parquet", "text/libsvm", "application/jsonlines", "text/plain",
                 "application/x-recordio-protobuf")


def check_job_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValidationException(
            f"training job name {name!r} must be 1-63 letters, digits or hyphens, starting and ending with a "
            "letter or digit")
    return name


def lake_prefix(location: str, what: str) -> str:
    return check_location(location, what=what, example="lake://bucket/prefix/", error=ValidationException)


#: A job's name, checked as SageMaker checks one.
JobName = Annotated[str, AfterValidator(check_job_name)]


def base_content_type(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() if content_type else None


class CreateTrainingJobRequest(Request):
    training_job_name: JobName = Field(description="1-63 letters, digits or hyphens; unique.")
    algorithm_specification: AlgorithmSpecification
    hyper_parameters: dict[str, str] = Field(default_factory=dict, description="Strings, as on AWS.")
    input_data_config: list[Channel] = Field(default_factory=list, max_length=20)
    output_data_config: OutputDataConfig
    resource_config: ResourceConfig = Field(default_factory=ResourceConfig)
    stopping_condition: StoppingCondition = Field(default_factory=StoppingCondition)
    checkpoint_config: CheckpointConfig | None = None
    cross_validation: CrossValidation | None = Field(None, description="crispml: k-fold CV before the final fit.")
    evaluation: EvaluationConfig | None = Field(
        None, description="crispml: judge the model on one of the channels when the job completes.")
    environment: dict[str, str] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    role_arn: str | None = Field(None, description="Accepted for SageMaker compatibility; the job acts as its "
                                                    "creator.")


    @field_validator("hyper_parameters")
    @classmethod
    def _hyperparameters(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise ValidationException(f"at most 100 hyperparameters, not {len(value)}")
        for key, item in value.items():
            if not 0 < len(key) <= 256 or len(item) > 2500:
                raise ValidationException(
                    f"hyperparameter {key[:40]!r}: names are 1-256 characters and values at most 2,500")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise ValidationException(f"at most 100 environment variables, not {len(value)}")
        for key in value:
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$", key):
                raise ValidationException(f"environment variable name {key!r} is not valid")
        return value

    @model_validator(mode="after")
    def _whole(self) -> CreateTrainingJobRequest:
        spec = self.algorithm_specification
        if (spec.algorithm_name is None) == (spec.training_image is None):
            raise ValidationException(
                "AlgorithmSpecification needs exactly one of AlgorithmName (a built-in algorithm) and TrainingImage "
                "(a framework, for a script)")
        if spec.training_image is not None and "sagemaker_program" not in self.hyper_parameters:
            raise ValidationException(
                "a script job names its entry point in the sagemaker_program hyperparameter (and its folder in "
                "sagemaker_submit_directory), as the SageMaker SDK passes them")
        names = [c.channel_name for c in self.input_data_config]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationException(f"channel names must be unique: {', '.join(duplicates)} given twice")
        for channel in self.input_data_config:
            source = channel.data_source
            if (source.s3_data_source is None) == (source.catalog_data_source is None):
                raise ValidationException(
                    f"channel {channel.channel_name!r}: DataSource needs exactly one of S3DataSource (a lake "
                    "prefix) and CatalogDataSource (a catalog table)")
            kind = base_content_type(channel.content_type)
            if kind is not None and kind not in CONTENT_TYPES:
                raise ValidationException(
                    f"channel {channel.channel_name!r}: ContentType {channel.content_type!r} is not one of "
                    f"{', '.join(CONTENT_TYPES)}")
        self.output_data_config.s3_output_path = lake_prefix(self.output_data_config.s3_output_path,
                                                             "S3OutputPath")
        if self.checkpoint_config is not None:
            self.checkpoint_config.s3_uri = lake_prefix(self.checkpoint_config.s3_uri, "CheckpointConfig S3Uri")
        if self.evaluation is not None and self.evaluation.test_channel_name not in names:
            raise ValidationException(
                f"Evaluation judges the model on channel {self.evaluation.test_channel_name!r}, which InputDataConfig "
                f"does not have (channels: {', '.join(names) or 'none'})")
        cv = self.cross_validation
        if cv is not None:
            if spec.algorithm_name is None:
                raise ValidationException(
                    "CrossValidation runs a built-in algorithm (AlgorithmName); a script job can split its own "
                    "folds")
            if cv.strategy == "GroupKFold" and cv.group_column is None:
                raise ValidationException("CrossValidation GroupKFold needs GroupColumn (the feature holding groups)")
            if cv.strategy != "GroupKFold" and cv.group_column is not None:
                raise ValidationException("CrossValidation GroupColumn is for the GroupKFold strategy only")
        return self


class CreateTrainingJobResponse(Response):
    training_job_arn: str


class TrainingJobRequest(Request):
    training_job_name: JobName



class DescribeTrainingJobResponse(TrainingJob, Response):
    """A training job, as DescribeTrainingJob returns it."""


class ListTrainingJobsRequest(Request):
    name_contains: str | None = Field(None, max_length=63)
    status_equals: TrainingJobStatus | None = None
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None
    warm_pool_status_equals: Literal["Available", "Terminated", "Reused", "InUse"] | None = None
    sort_by: Literal["Name", "CreationTime", "Status"] = "CreationTime"
    sort_order: Literal["Ascending", "Descending"] = "Descending"
    max_results: int = Field(10, ge=1, le=100)
    next_token: str | None = None


class ListTrainingJobsResponse(Response):
    training_job_summaries: list[TrainingJobSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"training_job_summaries": [
        "training_job_name", "training_job_status", "secondary_status", "creation_time", "training_end_time"]}


class EmptyResponse(Response):
    """The answer of an operation that returns nothing (StopTrainingJob)."""


class GetTrainingJobLogsRequest(Request):
    """crispml: a job's log lines (its CloudWatch Logs stream), from a position on."""

    training_job_name: JobName
    next_token: str | None = Field(None, description="Where the previous call ended; omit to start at the top.")
    limit: int = Field(1000, ge=1, le=10_000)



class LogLine(Response):
    timestamp: datetime
    message: str


class GetTrainingJobLogsResponse(Response):
    log_group: str
    log_stream: str | None
    lines: list[LogLine]
    next_token: str
    training_job_status: TrainingJobStatus
    secondary_status: str
