"""Serving requests and responses: SageMaker's hosting operations and fields, in snake_case.

Checked here, once, with SageMaker's limits: endpoint and endpoint
configuration names are 1-63 letters, digits and hyphens
(``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$``); 1-10 production variants with
distinct names; at most one shadow variant, and then exactly one production
variant; weights ≥ 0, and not all zero; a data capture destination in the
lake; a request body at most 6 MB (SageMaker Runtime's limit). What needs the
platform — does the model exist, is its version approved — is checked by the
operation.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from crispml.services.serving.entities import (
    DataCaptureConfig,
    Endpoint,
    EndpointConfigSummary,
    EndpointStatus,
    EndpointSummary,
    ProductionVariant,
    SortOrder,
    Tag,
)
from crispml.services.serving.errors import ValidationException
from crispml.spine.models import Request, Response, Shape

_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
#: SageMaker Runtime's largest request body.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def check_name(name: str) -> str:
    import re

    if not re.match(_NAME, name):
        raise ValidationException(f"name {name!r} must be 1-63 letters, digits or hyphens, starting and ending "
                                  "with a letter or digit")
    return name


#: An endpoint's or an endpoint configuration's name, checked as SageMaker checks it.
EndpointName = Annotated[str, AfterValidator(check_name)]


def lake_prefix(uri: str, what: str) -> str:
    """``uri`` as ``lake://bucket/prefix/`` (``s3://`` names the same lake)."""
    scheme, sep, rest = uri.strip().partition("://")
    if not sep or scheme not in ("lake", "s3", "s3a") or not rest.strip("/"):
        raise ValidationException(f"{what} {uri!r} must be a place in the lake: lake://bucket/prefix ('s3://' "
                                  "names the same lake)")
    return f"lake://{rest.rstrip('/')}/"


class EmptyResponse(Response):
    """The answer of an operation that returns nothing."""


class _Listing(Request):
    name_contains: str | None = Field(None, max_length=63)
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    sort_by: Literal["Name", "CreationTime"] = "CreationTime"
    sort_order: SortOrder = "Descending"
    max_results: int = Field(10, ge=1, le=100)
    next_token: str | None = None


# -- endpoint configurations ---------------------------------------------------


class CreateEndpointConfigRequest(Request):
    endpoint_config_name: EndpointName
    production_variants: list[ProductionVariant] = Field(min_length=1, max_length=10)
    shadow_production_variants: list[ProductionVariant] = Field(default_factory=list, max_length=1)
    data_capture_config: DataCaptureConfig | None = None
    kms_key_id: str | None = Field(None, max_length=2048)
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _variants(self) -> CreateEndpointConfigRequest:
        names = [v.variant_name for v in (*self.production_variants, *self.shadow_production_variants)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationException(f"variant names must be unique in an endpoint configuration: "
                                      f"{', '.join(repeated)} appears more than once")
        if self.shadow_production_variants and len(self.production_variants) != 1:
            raise ValidationException("ShadowProductionVariants needs exactly one production variant (the one "
                                      f"whose requests it copies), not {len(self.production_variants)}")
        if sum(v.initial_variant_weight for v in self.production_variants) <= 0:
            raise ValidationException("at least one production variant needs an InitialVariantWeight above 0, or "
                                      "no request could be routed")
        if self.data_capture_config is not None:
            self.data_capture_config.destination_s3_uri = lake_prefix(
                self.data_capture_config.destination_s3_uri, "DataCaptureConfig DestinationS3Uri")
        return self


class CreateEndpointConfigResponse(Response):
    endpoint_config_arn: str


class EndpointConfigRequest(Request):
    endpoint_config_name: EndpointName


class DescribeEndpointConfigResponse(Response):
    endpoint_config_name: str
    endpoint_config_arn: str
    production_variants: list[ProductionVariant]
    shadow_production_variants: list[ProductionVariant] = Field(default_factory=list)
    data_capture_config: DataCaptureConfig | None = None
    kms_key_id: str | None = None
    creation_time: datetime


class ListEndpointConfigsRequest(_Listing):
    """ListEndpointConfigs: the shared filters, sorting and paging."""


class ListEndpointConfigsResponse(Response):
    endpoint_configs: list[EndpointConfigSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"endpoint_configs": ["endpoint_config_name", "creation_time"]}


# -- endpoints -----------------------------------------------------------------


class CreateEndpointRequest(Request):
    endpoint_name: EndpointName
    endpoint_config_name: EndpointName
    tags: list[Tag] = Field(default_factory=list, max_length=50)


class EndpointArnResponse(Response):
    endpoint_arn: str


class EndpointRequest(Request):
    endpoint_name: EndpointName


class DescribeEndpointResponse(Endpoint, Response):
    """An endpoint, as DescribeEndpoint returns it."""


class ListEndpointsRequest(_Listing):
    sort_by: Literal["Name", "CreationTime", "Status"] = "CreationTime"  # type: ignore[assignment]
    status_equals: EndpointStatus | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None


class ListEndpointsResponse(Response):
    endpoints: list[EndpointSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {
        "endpoints": ["endpoint_name", "endpoint_status", "creation_time", "last_modified_time"]}


class UpdateEndpointRequest(Request):
    endpoint_name: EndpointName
    endpoint_config_name: EndpointName
    retain_all_variant_properties: bool = Field(
        False, description="Keep each variant's current weight and instance count (those of a variant of the "
                           "same name in the new configuration).")


class DesiredWeightAndCapacity(Shape):
    variant_name: str = Field(min_length=1, max_length=63)
    desired_weight: float | None = Field(None, ge=0.0, le=1_000_000.0)
    desired_instance_count: int | None = Field(None, ge=0, le=16)


class UpdateEndpointWeightsAndCapacitiesRequest(Request):
    endpoint_name: EndpointName
    desired_weights_and_capacities: list[DesiredWeightAndCapacity] = Field(min_length=1, max_length=10)

    @field_validator("desired_weights_and_capacities")
    @classmethod
    def _something(cls, value: list[DesiredWeightAndCapacity]) -> list[DesiredWeightAndCapacity]:
        for item in value:
            if item.desired_weight is None and item.desired_instance_count is None:
                raise ValidationException(f"variant {item.variant_name!r}: give DesiredWeight, "
                                          "DesiredInstanceCount or both")
        return value


# -- invocations (SageMaker Runtime) -------------------------------------------


class InvokeEndpointRequest(Request):
    endpoint_name: EndpointName
    body: bytes = Field(json_schema_extra={"stream": True},
                        description="The request body (at most 6 MB): a file path, or - for standard input, on the "
                                    "command line; bytes or a binary file in Python.")
    content_type: str = Field("text/csv", max_length=1024)
    accept: str = Field("*/*", max_length=1024)
    custom_attributes: str | None = Field(None, max_length=1024)
    target_variant: str | None = Field(None, max_length=63)
    inference_id: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.encode()
        elif hasattr(value, "read"):  # a binary file: read one byte past the limit, to tell it is over
            value = value.read(MAX_PAYLOAD_BYTES + 1)
        if isinstance(value, bytes | bytearray) and len(value) > MAX_PAYLOAD_BYTES:
            raise ValidationException(f"the request body is {len(value):,} bytes; SageMaker Runtime takes at most "
                                      f"{MAX_PAYLOAD_BYTES:,} (6 MB): send fewer rows per request, or use a batch "
                                      "transform job")
        return value


class InvokeEndpointResponse(Response):
    body: io.BytesIO = Field(json_schema_extra={"stream": True},
                             description="The model's answer, to read() as boto3's StreamingBody.")
    content_type: str
    invoked_production_variant: str
    custom_attributes: str | None = None


# -- the runtime (crispml) -----------------------------------------------------


class RuntimeRequest(Request):
    """The serving runtime of this home: nothing to give."""


class DescribeRuntimeResponse(Response):
    status: Literal["Running", "Stopped"]
    url: str | None = Field(None, description="Where the runtime front listens: POST <url>/endpoints/<name>/"
                                              "invocations; boto3's sagemaker-runtime client takes it as "
                                              "endpoint_url.")
    pid: int | None = None
    started_at: datetime | None = None
    endpoints: int = 0
    instances: int = 0
