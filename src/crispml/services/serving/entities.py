"""Serving value objects: SageMaker's hosting shapes in snake_case (AWS PascalCase accepted as input).

The request shapes (``ProductionVariant``, ``DataCaptureConfig`` …) come back
unchanged in DescribeEndpointConfig, so they are defined once here; the checks
between fields live in ``specs.py``. crispml's additions are marked: where the
runtime listens, and each variant's instances.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crispml.spine.models import Shape

EndpointStatus = Literal["OutOfService", "Creating", "Updating", "SystemUpdating", "RollingBack", "InService",
                         "Deleting", "Failed", "UpdateRollbackFailed"]
SortOrder = Literal["Ascending", "Descending"]
#: What SageMaker's ml.* instance types mean here: an instance is a process on this machine.
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


class Tag(Shape):
    key: str = Field(min_length=1, max_length=128)
    value: str = Field("", max_length=256)


class ProductionVariant(Shape):
    variant_name: str = Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    model_name: str = Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
                            description="A model made by CreateModel (crispml registry create-model).")
    initial_instance_count: int = Field(1, ge=1, le=16,
                                        description="Processes serving the model (at most 16 on one machine).")
    instance_type: str = Field(DEFAULT_INSTANCE_TYPE, max_length=64,
                               description="Kept as given; an instance is one process on this machine.")
    initial_variant_weight: float = Field(1.0, ge=0.0, le=1_000_000.0,
                                          description="Share of traffic: weight / sum of the variants' weights. "
                                                      "For a shadow variant: the share of requests copied to it, "
                                                      "relative to the production variant's weight.")
    container_startup_health_check_timeout_in_seconds: int = Field(
        600, ge=60, le=3600, description="How long an instance may take to answer GET /ping after it starts.")
    model_data_download_timeout_in_seconds: int | None = Field(None, ge=60, le=3600)


class CaptureOption(Shape):
    capture_mode: Literal["Input", "Output", "InputAndOutput"]


class CaptureContentTypeHeader(Shape):
    csv_content_types: list[str] = Field(default_factory=list, max_length=10)
    json_content_types: list[str] = Field(default_factory=list, max_length=10)


class DataCaptureConfig(Shape):
    enable_capture: bool = True
    initial_sampling_percentage: int = Field(ge=0, le=100)
    destination_s3_uri: str = Field(max_length=512, description="lake://bucket/prefix ('s3://' names the same "
                                                               "lake); records go under <endpoint>/<variant>/"
                                                               "yyyy/mm/dd/hh/.")
    kms_key_id: str | None = Field(None, max_length=2048)
    capture_options: list[CaptureOption] = Field(min_length=1, max_length=2)
    capture_content_type_header: CaptureContentTypeHeader | None = None


class EndpointConfigSummary(BaseModel):
    endpoint_config_name: str
    endpoint_config_arn: str
    creation_time: datetime


class DeployedImage(BaseModel):
    specified_image: str
    resolved_image: str
    resolution_time: datetime


class InstanceSummary(BaseModel):
    """crispml: one process serving a variant."""

    instance_id: str
    status: Literal["Pending", "InService", "Draining", "Failed"]
    address: str | None = None
    pid: int | None = None
    restarts: int = 0
    last_error: str | None = None


class ProductionVariantSummary(BaseModel):
    variant_name: str
    model_name: str | None = None
    deployed_images: list[DeployedImage] = Field(default_factory=list)
    current_weight: float
    desired_weight: float
    current_instance_count: int
    desired_instance_count: int
    instances: list[InstanceSummary] = Field(default_factory=list, description="crispml: the variant's processes.")


class DataCaptureConfigSummary(BaseModel):
    enable_capture: bool
    capture_status: Literal["Started", "Stopped"]
    current_sampling_percentage: int
    destination_s3_uri: str
    kms_key_id: str | None = None


class EndpointSummary(BaseModel):
    endpoint_name: str
    endpoint_arn: str
    creation_time: datetime
    last_modified_time: datetime
    endpoint_status: EndpointStatus


class Endpoint(BaseModel):
    endpoint_name: str
    endpoint_arn: str
    endpoint_config_name: str
    production_variants: list[ProductionVariantSummary] = Field(default_factory=list)
    shadow_production_variants: list[ProductionVariantSummary] = Field(default_factory=list)
    data_capture_config: DataCaptureConfigSummary | None = None
    endpoint_status: EndpointStatus
    failure_reason: str | None = None
    creation_time: datetime
    last_modified_time: datetime
    runtime_url: str | None = Field(None, description="crispml: where the runtime front answers this endpoint "
                                                      "(POST <runtime_url>/invocations), when it runs.")
