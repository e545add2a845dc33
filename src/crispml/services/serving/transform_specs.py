"""Batch transform requests and responses: SageMaker's ``CreateTransformJob`` shapes, in snake_case.

Checked here, once, with SageMaker's limits and rules: job and model names as
SageMaker spells them; ``MaxPayloadInMB`` 0-100 (0: no limit, a whole file or
record per request), and ``MaxConcurrentTransforms × MaxPayloadInMB`` at most
100; at most 16 environment variables; filters are JSONPaths batch transform
supports (``jsonpath.py``); filtering and joining need records (``SplitType
Line``) in CSV or JSON; a Text output joined with its input is assembled by
line. crispml adds a catalog table as input (``CatalogDataSource``) and a
Parquet output (``OutputFormat``). What needs the platform — does the model
exist and may it be deployed, is there any input, are there CPUs for the
instances — is checked by the operation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from crispml.services.serving import jsonpath
from crispml.services.serving.entities import DEFAULT_INSTANCE_TYPE, Tag
from crispml.services.serving.errors import ValidationException
from crispml.services.serving.specs import _Listing, check_name, lake_prefix
from crispml.spine.models import Request, Response, Shape

if TYPE_CHECKING:
    from crispml.services.serving.store import TransformJobRow

TransformJobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
#: The statuses of a job that has not ended.
ACTIVE = ("InProgress", "Stopping")
#: A transform job's name, checked as SageMaker checks it.
TransformJobName = Annotated[str, AfterValidator(check_name)]
#: A model's name (CreateModel's rule is the same).
ModelName = Annotated[str, AfterValidator(check_name)]
#: Content types whose records batch transform can filter and join (CSV rows, JSON values one per line).
CSV, JSON, JSON_LINES = "text/csv", "application/json", "application/jsonlines"
RECORD_TYPES = (CSV, JSON, JSON_LINES)
MAX_PAYLOAD_MB = 100


def base_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv`` (text/csv when none is given, as the containers assume)."""
    return (content_type or CSV).split(";", 1)[0].strip().lower()


class TransformS3DataSource(Shape):
    s3_data_type: Literal["S3Prefix", "ManifestFile"] = Field(
        "S3Prefix", description="S3Prefix: every object whose key starts with S3Uri; ManifestFile: S3Uri is a "
                                "manifest ([{\"prefix\": \"s3://bucket/p/\"}, \"key-1\", …]).")
    s3_uri: str = Field(min_length=1, max_length=1024,
                        description="lake://bucket/prefix ('s3://' names the same lake).")

    @field_validator("s3_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        scheme, sep, rest = value.strip().partition("://")
        if not sep or scheme not in ("lake", "s3", "s3a") or not rest.strip("/"):
            raise ValidationException(f"S3Uri {value!r} must be a place in the lake: lake://bucket/prefix ('s3://' "
                                      "names the same lake)")
        return f"lake://{rest}"


class CatalogDataSource(Shape):
    """crispml: a catalog table's current rows as the input, every column in the table's order (no label)."""

    database_name: str = Field(min_length=1, max_length=255)
    table_name: str = Field(min_length=1, max_length=255)


class TransformDataSource(Shape):
    s3_data_source: TransformS3DataSource | None = None
    catalog_data_source: CatalogDataSource | None = None

    @model_validator(mode="after")
    def _one(self) -> TransformDataSource:
        if (self.s3_data_source is None) == (self.catalog_data_source is None):
            raise ValidationException("DataSource needs exactly one of S3DataSource (files in the lake) and "
                                      "CatalogDataSource (a catalog table)")
        return self


class TransformInput(Shape):
    data_source: TransformDataSource
    content_type: str | None = Field(None, max_length=256,
                                     description="The requests' Content-Type: text/csv (default), "
                                                 "application/jsonlines, application/json, or any the model reads.")
    compression_type: Literal["None", "Gzip"] = "None"
    split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = Field(
        "None", description="None: a whole file per request; Line: one record per line, packed into requests "
                            "by BatchStrategy.")


class TransformOutput(Shape):
    s3_output_path: str = Field(min_length=1, max_length=1024,
                                description="Where the results go: lake://bucket/prefix/ (one output per input "
                                            "file: <relative key>.out, or .parquet).")
    accept: str | None = Field(None, max_length=256, description="The requests' Accept: the answers' type.")
    assemble_with: Literal["None", "Line"] = Field(
        "None", description="Line: each answer ends with a newline in the output; None: answers as they come.")
    kms_key_id: str | None = Field(None, max_length=2048)
    output_format: Literal["Text", "Parquet"] = Field(
        "Text", description="crispml: Text writes the answers (SageMaker's <file>.out); Parquet one file per "
                            "input with the column SageMakerOutput (after the input's columns when joined).")

    @field_validator("s3_output_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return lake_prefix(value, "S3OutputPath")


class TransformResources(Shape):
    instance_type: str = Field(DEFAULT_INSTANCE_TYPE, max_length=64,
                               description="Kept as given; an instance is one process on this machine.")
    instance_count: int = Field(1, ge=1, le=1024, description="Processes serving the model (at most this "
                                                              "machine's CPUs).")
    volume_kms_key_id: str | None = Field(None, max_length=2048)


class DataProcessing(Shape):
    input_filter: str = Field("$", max_length=63, description="JSONPath of each record's part sent to the model.")
    output_filter: str = Field("$", max_length=63, description="JSONPath of each (joined) result's part kept.")
    join_source: Literal["None", "Input"] = Field("None", description="Input: each result joined with its input "
                                                                      "record.")

    @model_validator(mode="after")
    def _paths(self) -> DataProcessing:
        jsonpath.parse(self.input_filter, "InputFilter")
        jsonpath.parse(self.output_filter, "OutputFilter")
        return self

    @property
    def active(self) -> bool:
        return self.input_filter.strip() != "$" or self.output_filter.strip() != "$" or self.join_source == "Input"


class ModelClientConfig(Shape):
    invocations_timeout_in_seconds: int = Field(600, ge=1, le=3600)
    invocations_max_retries: int = Field(3, ge=0, le=3)


class CreateTransformJobRequest(Request):
    transform_job_name: TransformJobName
    model_name: ModelName = Field(description="A model made by CreateModel (crispml registry create-model).")
    max_concurrent_transforms: int | None = Field(
        None, ge=0, le=1024, description="Requests in flight per instance (0 or unset: 1).")
    model_client_config: ModelClientConfig | None = None
    max_payload_in_mb: int = Field(6, alias="MaxPayloadInMB",
                                   description="Largest request in MB, 0-100 (0: no limit).")
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = Field(
        "MultiRecord", description="MultiRecord: as many records per request as fit MaxPayloadInMB; "
                                   "SingleRecord: one.")
    environment: dict[str, str] = Field(default_factory=dict, description="Added to the model's environment.")
    transform_input: TransformInput
    transform_output: TransformOutput
    transform_resources: TransformResources
    data_processing: DataProcessing | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @field_validator("max_payload_in_mb")
    @classmethod
    def _payload(cls, value: int) -> int:
        if not 0 <= value <= MAX_PAYLOAD_MB:
            raise ValidationException(f"MaxPayloadInMB is {value}; it must be 0-{MAX_PAYLOAD_MB} (the largest "
                                      "request in MB; 6 by default; 0 sends each file or record whole, however "
                                      "large)")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        if len(value) > 16:
            raise ValidationException(f"Environment has {len(value)} variables; SageMaker takes at most 16")
        for key in value:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]{0,1023}", key):
                raise ValidationException(f"Environment variable name {key!r} must be letters, digits and "
                                          "underscores, not starting with a digit")
        return value

    @model_validator(mode="after")
    def _together(self) -> CreateTransformJobRequest:
        concurrent = self.max_concurrent_transforms or 1
        if self.max_payload_in_mb and concurrent * self.max_payload_in_mb > MAX_PAYLOAD_MB:
            raise ValidationException(
                f"MaxConcurrentTransforms × MaxPayloadInMB is {concurrent} × {self.max_payload_in_mb} MB; it must "
                f"be at most {MAX_PAYLOAD_MB} MB: lower one of them")
        split = self.transform_input.split_type
        if split in ("RecordIO", "TFRecord"):
            raise ValidationException(f"SplitType {split} is not supported here: use Line (one record per line) "
                                      "or None (a whole file per request)")
        kind = base_type(self.transform_input.content_type)
        processing = self.data_processing
        per_record = (processing is not None and processing.active) or self.transform_output.output_format \
            == "Parquet"
        if per_record and split != "Line":
            raise ValidationException("DataProcessing filters and joins, and a Parquet output, work record by "
                                      "record: set TransformInput SplitType to Line")
        if processing is not None and processing.active and kind not in RECORD_TYPES:
            raise ValidationException(f"DataProcessing reads records as CSV or JSON; ContentType {kind!r} is "
                                      f"neither ({', '.join(RECORD_TYPES)})")
        if processing is not None and processing.join_source == "Input" \
                and self.transform_output.output_format == "Text" and self.transform_output.assemble_with != "Line":
            raise ValidationException("JoinSource Input writes one joined record per line: set TransformOutput "
                                      "AssembleWith to Line")
        return self

    @property
    def processing(self) -> DataProcessing:
        return self.data_processing or DataProcessing()


class CreateTransformJobResponse(Response):
    transform_job_arn: str


class TransformJobRequest(Request):
    transform_job_name: TransformJobName


class TransformInstance(BaseModel):
    """crispml: one process serving the job's model, while the job runs."""

    pid: int
    address: str


class TransformJobProgress(BaseModel):
    """crispml: how far the job has got."""

    input_files: int = Field(0, description="Files to transform (1 for a catalog table).")
    files_completed: int = Field(0, description="Files whose output is written.")
    records_completed: int = Field(0, description="Records the model has answered.")
    requests_sent: int = Field(0, description="Requests (mini-batches) the model has answered.")
    instances: list[TransformInstance] = Field(default_factory=list)
    instances_ready_time: datetime | None = Field(None, description="When every instance answered GET /ping (the "
                                                                    "transform proper began).")


class DescribeTransformJobResponse(Response):
    transform_job_name: str
    transform_job_arn: str
    transform_job_status: TransformJobStatus
    failure_reason: str | None = None
    model_name: str
    max_concurrent_transforms: int
    model_client_config: ModelClientConfig
    max_payload_in_mb: int
    batch_strategy: Literal["MultiRecord", "SingleRecord"]
    environment: dict[str, str] = Field(default_factory=dict)
    transform_input: TransformInput
    transform_output: TransformOutput
    transform_resources: TransformResources
    data_processing: DataProcessing
    creation_time: datetime
    transform_start_time: datetime | None = None
    transform_end_time: datetime | None = None
    last_modified_time: datetime
    progress: TransformJobProgress = Field(description="crispml: files and records done.")


class ListTransformJobsRequest(_Listing):
    sort_by: Literal["Name", "CreationTime", "Status"] = "CreationTime"  # type: ignore[assignment]
    status_equals: TransformJobStatus | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None


class TransformJobSummary(BaseModel):
    transform_job_name: str
    transform_job_arn: str
    creation_time: datetime
    transform_end_time: datetime | None = None
    last_modified_time: datetime
    transform_job_status: TransformJobStatus
    failure_reason: str | None = None


class ListTransformJobsResponse(Response):
    transform_job_summaries: list[TransformJobSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {
        "transform_job_summaries": ["transform_job_name", "transform_job_status", "creation_time",
                                    "transform_end_time"]}


def definition_document(request: CreateTransformJobRequest) -> dict[str, Any]:
    """What the job's row keeps of its request (all of it but the name)."""
    return request.model_dump(mode="json", exclude={"transform_job_name"})


def definition_of(row: TransformJobRow) -> CreateTransformJobRequest:
    """A job's request, as its row keeps it."""
    import json

    return CreateTransformJobRequest.model_validate({**json.loads(row.definition), "transform_job_name": row.name})
