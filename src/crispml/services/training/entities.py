"""Training value objects: SageMaker's shapes in snake_case (AWS PascalCase accepted as input).

The request shapes (``AlgorithmSpecification``, ``Channel``, ``ResourceConfig``
…) come back unchanged in ``DescribeTrainingJob``, so they are defined once
here; the checks a request must pass live in ``specs.py``. crispml's additions
to SageMaker's shapes are marked as such: ``CatalogDataSource`` (a channel over
a catalog table), ``CrossValidation``, and the lineage a job records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from crispml.core.hive import check_location
from crispml.services.training.errors import ValidationException
from crispml.spine.models import Shape

TrainingJobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
SecondaryStatus = Literal[
    "Starting", "Pending", "Downloading", "Training", "Uploading", "Stopping", "Stopped", "MaxRuntimeExceeded",
    "Completed", "Failed", "Interrupted", "Restarting",
]
#: Statuses a job can still leave.
ACTIVE = ("InProgress", "Stopping")
ContentType = str
InputMode = Literal["File", "FastFile"]
CrossValidationStrategy = Literal["KFold", "StratifiedKFold", "GroupKFold", "LeaveOneOut", "TimeSeriesSplit"]


class MetricDefinition(Shape):
    name: str = Field(min_length=1, max_length=255, description="The metric's name, e.g. 'validation:auc'.")
    regex: str = Field(min_length=1, max_length=500,
                       description="A regular expression over the job's log lines; its first group is the value.")


class AlgorithmSpecification(Shape):
    training_image: str | None = Field(
        None, description="A framework ('sklearn', 'xgboost', 'lightgbm', 'python') or a SageMaker framework image "
                          "URI, for a script job (the script is named by the sagemaker_program hyperparameter).")
    algorithm_name: str | None = Field(None, description="A built-in algorithm: xgboost, linear-learner, k-means, …")
    training_input_mode: InputMode = Field("File", description="File copies each channel in; FastFile does not.")
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    enable_sage_maker_metrics_time_series: bool = True


class S3DataSource(Shape):
    s3_data_type: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    s3_uri: str = Field(description="A lake prefix ('lake://bucket/prefix/'; 's3://' names the same lake).")
    s3_data_distribution_type: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"

    @field_validator("s3_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return key_prefix(value, "S3Uri")


def key_prefix(uri: str, what: str) -> str:
    """A lake key prefix as ``lake://bucket/prefix`` — every key that starts with it, as S3Prefix means (a
    trailing ``/`` kept if given); ``s3://`` names the same lake."""
    checked = check_location(uri, what=what, example="lake://bucket/prefix/", error=ValidationException)
    text = uri.strip()
    return checked if text.endswith("/") or checked.count("/") == 3 else checked.rstrip("/")


class CatalogDataSource(Shape):
    """crispml: a channel over a catalog table, pinned when the job starts."""

    database_name: str = Field(min_length=1, max_length=255)
    table_name: str = Field(min_length=1, max_length=255)
    label_column: str | None = Field(
        None, description="The column that is the label, written first (text/csv, text/libsvm); default: none.")
    columns: list[str] | None = Field(None, description="The feature columns, in order; default: every other column.")
    snapshot_id: int | None = Field(None, description="A managed table's snapshot to read; default: its current one.")


class DataSource(Shape):
    s3_data_source: S3DataSource | None = None
    catalog_data_source: CatalogDataSource | None = None


class Channel(Shape):
    channel_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\.\-_]+$")
    data_source: DataSource
    content_type: str | None = Field(
        None, description="text/csv (label first, no header), application/x-parquet, text/libsvm, "
                          "application/jsonlines")
    compression_type: Literal["None", "Gzip"] = "None"
    input_mode: InputMode | None = None


class OutputDataConfig(Shape):
    s3_output_path: str = Field(description="Where model.tar.gz and output.tar.gz go: 'lake://bucket/prefix/'.")
    kms_key_id: str | None = None


class ResourceConfig(Shape):
    instance_type: str = "local"
    instance_count: int = Field(1, ge=1, le=1, description="One instance: jobs run on this machine.")
    volume_size_in_gb: int = Field(1, ge=1, alias="VolumeSizeInGB")
    cpus: int | None = Field(None, ge=1, description="crispml: CPUs the job may use (default: all).")
    memory_limit_in_mb: int | None = Field(None, ge=16, alias="MemoryLimitInMB",
                                           description="crispml: the job's memory limit.")
    keep_alive_period_in_seconds: int | None = Field(
        None, ge=0, le=3600, description="Keep the finished job's worker this long for the next job (warm pool).")


class StoppingCondition(Shape):
    max_runtime_in_seconds: int = Field(86_400, ge=1, le=2_419_200)
    max_wait_time_in_seconds: int | None = Field(None, ge=1)


class CheckpointConfig(Shape):
    s3_uri: str = Field(description="Lake prefix the job's checkpoints are synced to and restored from.")
    local_path: str = "/opt/ml/checkpoints"


class CrossValidation(Shape):
    """crispml: k-fold cross-validation of a built-in algorithm before its final fit."""

    strategy: CrossValidationStrategy = "KFold"
    folds: int = Field(5, ge=2, le=100)
    shuffle: bool = False
    seed: int = 0
    group_column: int | None = Field(None, ge=0, description="GroupKFold: the feature column holding the groups.")


class EvaluationConfig(Shape):
    """crispml: judge the model on one of the job's channels once the job has completed — an evaluation job
    named ``<job>-evaluation`` of the evaluation service, its report under the job's output path."""

    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression", "Clustering",
                          "AnomalyDetection"]
    test_channel_name: str = Field("test", description="The channel holding the held-out rows.")
    metrics: list[str] | None = Field(None, description="Metrics that must apply (default: all of the type's).")
    positive_label: str | None = None


class Tag(Shape):
    key: str = Field(min_length=1, max_length=128)
    value: str = Field("", max_length=256)


class SecondaryStatusTransition(BaseModel):
    status: SecondaryStatus
    start_time: datetime
    end_time: datetime | None = None
    status_message: str | None = None


class MetricData(BaseModel):
    metric_name: str
    value: float
    timestamp: datetime


class ModelArtifacts(BaseModel):
    s3_model_artifacts: str


class WarmPoolStatus(BaseModel):
    status: Literal["Available", "Terminated", "Reused", "InUse"]
    resource_retained_billable_time_in_seconds: int | None = None
    reused_by_job: str | None = None


class PinnedFile(BaseModel):
    uri: str
    e_tag: str
    size: int


class ChannelLineage(BaseModel):
    """crispml: exactly what a channel read — a table's snapshot, or its files with their ETags."""

    channel_name: str
    source: str
    snapshot_id: int | None = None
    files: list[PinnedFile] = Field(default_factory=list)
    rows: int | None = None


class Lineage(BaseModel):
    channels: list[ChannelLineage] = Field(default_factory=list)
    code_sha256: str | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)


class FoldMetrics(BaseModel):
    fold: int
    metrics: dict[str, float]


class MetricSummary(BaseModel):
    mean: float
    standard_deviation: float


class CrossValidationResults(BaseModel):
    strategy: str
    folds: list[FoldMetrics]
    summary: dict[str, MetricSummary]


class TrainingJob(BaseModel):
    """What DescribeTrainingJob returns."""

    training_job_name: str
    training_job_arn: str
    training_job_status: TrainingJobStatus
    secondary_status: SecondaryStatus
    secondary_status_transitions: list[SecondaryStatusTransition]
    failure_reason: str | None = None
    algorithm_specification: AlgorithmSpecification
    hyper_parameters: dict[str, str]
    input_data_config: list[Channel]
    output_data_config: OutputDataConfig
    resource_config: ResourceConfig
    stopping_condition: StoppingCondition
    checkpoint_config: CheckpointConfig | None = None
    cross_validation: CrossValidation | None = None
    evaluation: EvaluationConfig | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    model_artifacts: ModelArtifacts | None = None
    final_metric_data_list: list[MetricData] = Field(default_factory=list)
    cross_validation_results: CrossValidationResults | None = None
    warm_pool_status: WarmPoolStatus | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    creation_time: datetime
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    last_modified_time: datetime
    training_time_in_seconds: int | None = None
    billable_time_in_seconds: int | None = None
    log_group: str = "/aws/sagemaker/TrainingJobs"
    log_stream: str | None = None
    peak_memory_in_mb: float | None = None


class TrainingJobSummary(BaseModel):
    training_job_name: str
    training_job_arn: str
    training_job_status: TrainingJobStatus
    secondary_status: SecondaryStatus
    creation_time: datetime
    training_end_time: datetime | None = None
    last_modified_time: datetime
    warm_pool_status: WarmPoolStatus | None = None
