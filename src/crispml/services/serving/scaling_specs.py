"""Application Auto Scaling's requests, responses and shapes, for SageMaker endpoint variants.

Application Auto Scaling is an AWS API of its own beside SageMaker's, with
its own field names (``ResourceId``, ``ScalableDimension``, ``RoleARN``) and
error codes, so its shapes live here rather than in ``specs.py``. crispml
scales one kind of target, a variant's instance count: ``ServiceNamespace``
``sagemaker``, ``ResourceId`` ``endpoint/<EndpointName>/variant/<VariantName>``,
``ScalableDimension`` ``sagemaker:variant:DesiredInstanceCount`` (both
default to those, the only values taken), and one kind of policy, target
tracking of the predefined metric ``SageMakerVariantInvocationsPerInstance``.
Step scaling, predictive scaling, scheduled actions and customized metrics
are refused with a message saying so. Checked here: the names above, the
capacities (1-16, SageMaker's range of a variant's instances here), the
target value (above 0) and the cooldowns (0 to a day); what needs the
platform — does the endpoint and its variant exist, is the target
registered — is checked by the operation.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from crispml.services.serving.errors import ValidationException
from crispml.spine.models import Request, Response, Shape

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
#: Application Auto Scaling's default cooldowns for SageMaker variants, in seconds.
DEFAULT_SCALE_OUT_COOLDOWN = 300
DEFAULT_SCALE_IN_COOLDOWN = 300
#: The most instances one variant may have here (ProductionVariant's InitialInstanceCount limit).
MAX_INSTANCES = 16
#: SageMaker's other predefined metrics, named when refused.
_OTHER_METRICS = ("SageMakerVariantProvisionedConcurrencyUtilization", "SageMakerInferenceComponentInvocationsPerCopy",
                  "SageMakerVariantConcurrentRequestsPerModelHighResolution")
_RESOURCE = re.compile(r"^endpoint/([a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/variant/([a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})$")
StatusCode = Literal["Pending", "InProgress", "Successful", "Overridden", "Unfulfilled", "Failed"]


def split_resource_id(resource_id: str) -> tuple[str, str]:
    """``endpoint/<EndpointName>/variant/<VariantName>`` as (endpoint, variant)."""
    found = _RESOURCE.match(resource_id)
    if found is None:
        raise ValidationException(f"ResourceId {resource_id!r} must name a SageMaker endpoint variant: "
                                  "endpoint/<EndpointName>/variant/<VariantName>")
    return found.group(1), found.group(2)


def _resource_id(value: str) -> str:
    split_resource_id(value)
    return value


def _namespace(value: str) -> str:
    if value != NAMESPACE:
        raise ValidationException(f"ServiceNamespace {value!r} is not scaled here: crispml scales SageMaker endpoint "
                                  f"variants only (ServiceNamespace {NAMESPACE!r})")
    return value


def _dimension(value: str) -> str:
    if value != DIMENSION:
        raise ValidationException(f"ScalableDimension {value!r} is not scaled here: a SageMaker endpoint variant "
                                  f"scales on {DIMENSION!r}")
    return value


#: ``endpoint/<EndpointName>/variant/<VariantName>``, checked.
ResourceId = Annotated[str, Field(max_length=1600), AfterValidator(_resource_id)]
ServiceNamespace = Annotated[str, AfterValidator(_namespace)]
ScalableDimension = Annotated[str, AfterValidator(_dimension)]


def _capacity(name: str, value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_INSTANCES:
        raise ValidationException(f"{name} {value} is out of range: a SageMaker variant has 1 to {MAX_INSTANCES} "
                                  "instances here")
    return value


def _cooldown(name: str, value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 86_400:
        raise ValidationException(f"{name} {value} is out of range: give 0 to 86400 seconds")
    return value


# -- shapes ----------------------------------------------------------------------


class SuspendedState(Shape):
    """Which scaling is suspended for a target (each False unless given)."""

    dynamic_scaling_in_suspended: bool | None = None
    dynamic_scaling_out_suspended: bool | None = None
    scheduled_scaling_suspended: bool | None = None


class PredefinedMetricSpecification(Shape):
    predefined_metric_type: str = Field(min_length=1, max_length=128)
    resource_label: str | None = Field(None, min_length=1, max_length=1023)

    @field_validator("predefined_metric_type")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value != METRIC:
            other = " (SageMaker's other predefined metrics are not tracked here)" if value in _OTHER_METRICS else ""
            raise ValidationException(f"PredefinedMetricType {value!r} is not supported for a SageMaker variant's "
                                      f"DesiredInstanceCount here{other}: use {METRIC!r}")
        return value


class TargetTrackingScalingPolicyConfiguration(Shape):
    target_value: float = Field(description="InvocationsPerInstance to keep each instance at (per minute).")
    predefined_metric_specification: PredefinedMetricSpecification | None = None
    customized_metric_specification: dict[str, Any] | None = Field(
        None, description="Refused: crispml tracks the predefined metric only.")
    scale_out_cooldown: int | None = Field(None, description="Seconds after a scale-out before another (300).")
    scale_in_cooldown: int | None = Field(None, description="Seconds after a scaling activity before a scale-in "
                                                            "(300).")
    disable_scale_in: bool = False

    @model_validator(mode="after")
    def _check(self) -> TargetTrackingScalingPolicyConfiguration:
        if not 0 < self.target_value < 1e108:
            raise ValidationException(f"TargetValue {self.target_value} must be above 0 (invocations per instance "
                                      "per minute)")
        if self.customized_metric_specification is not None:
            raise ValidationException("CustomizedMetricSpecification is not supported here: give "
                                      f"PredefinedMetricSpecification with PredefinedMetricType {METRIC!r}")
        if self.predefined_metric_specification is None:
            raise ValidationException("TargetTrackingScalingPolicyConfiguration needs a PredefinedMetricSpecification "
                                      f"(PredefinedMetricType {METRIC!r})")
        _cooldown("ScaleOutCooldown", self.scale_out_cooldown)
        _cooldown("ScaleInCooldown", self.scale_in_cooldown)
        return self


# -- entities --------------------------------------------------------------------


class ScalableTarget(BaseModel):
    service_namespace: str
    resource_id: str
    scalable_dimension: str
    min_capacity: int
    max_capacity: int
    role_arn: str | None = None
    creation_time: datetime
    suspended_state: SuspendedState
    scalable_target_arn: str


class Alarm(BaseModel):
    alarm_name: str
    alarm_arn: str


class ScalingPolicy(BaseModel):
    policy_arn: str
    policy_name: str
    service_namespace: str
    resource_id: str
    scalable_dimension: str
    policy_type: str
    target_tracking_scaling_policy_configuration: TargetTrackingScalingPolicyConfiguration
    alarms: list[Alarm] = Field(default_factory=list, description="Always empty: crispml's runtime evaluates the "
                                                                  "metric itself, with no CloudWatch alarm.")
    creation_time: datetime


class ScalingActivity(BaseModel):
    activity_id: str
    service_namespace: str
    resource_id: str
    scalable_dimension: str
    description: str
    cause: str
    start_time: datetime
    end_time: datetime | None = None
    status_code: StatusCode
    status_message: str | None = None


# -- requests and responses ------------------------------------------------------


class _Target(Request):
    service_namespace: ServiceNamespace = NAMESPACE
    resource_id: ResourceId
    scalable_dimension: ScalableDimension = DIMENSION


class RegisterScalableTargetRequest(_Target):
    min_capacity: int | None = Field(None, description="Fewest instances (required for a new target).")
    max_capacity: int | None = Field(None, description="Most instances (required for a new target).")
    role_arn: str | None = Field(None, max_length=1600, validation_alias="RoleARN")
    suspended_state: SuspendedState | None = None

    @model_validator(mode="after")
    def _capacities(self) -> RegisterScalableTargetRequest:
        _capacity("MinCapacity", self.min_capacity)
        _capacity("MaxCapacity", self.max_capacity)
        return self


class RegisterScalableTargetResponse(Response):
    scalable_target_arn: str


class DeregisterScalableTargetRequest(_Target):
    """The scalable target to deregister (its scaling policies go with it)."""


class DescribeScalableTargetsRequest(Request):
    service_namespace: ServiceNamespace = NAMESPACE
    resource_ids: list[ResourceId] = Field(default_factory=list, max_length=50)
    scalable_dimension: ScalableDimension | None = None
    max_results: int = Field(50, ge=1, le=50)
    next_token: str | None = None


class DescribeScalableTargetsResponse(Response):
    scalable_targets: list[ScalableTarget]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {
        "scalable_targets": ["resource_id", "min_capacity", "max_capacity", "creation_time"]}


class PutScalingPolicyRequest(_Target):
    policy_name: str = Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")
    policy_type: str = Field("TargetTrackingScaling", description="TargetTrackingScaling, the only type taken here "
                                                                   "(so the default; AWS's StepScaling is not).")
    target_tracking_scaling_policy_configuration: TargetTrackingScalingPolicyConfiguration | None = None

    @model_validator(mode="after")
    def _tracking(self) -> PutScalingPolicyRequest:
        if self.policy_type != "TargetTrackingScaling":
            known = "not supported here" if self.policy_type in ("StepScaling", "PredictiveScaling") else "unknown"
            raise ValidationException(f"PolicyType {self.policy_type!r} is {known}: a SageMaker variant scales here "
                                      "with 'TargetTrackingScaling'")
        if self.target_tracking_scaling_policy_configuration is None:
            raise ValidationException("a TargetTrackingScaling policy needs a TargetTrackingScalingPolicyConfiguration")
        return self


class PutScalingPolicyResponse(Response):
    policy_arn: str
    alarms: list[Alarm] = Field(default_factory=list)


class DeleteScalingPolicyRequest(_Target):
    policy_name: str = Field(min_length=1, max_length=256)


class DescribeScalingPoliciesRequest(Request):
    service_namespace: ServiceNamespace = NAMESPACE
    policy_names: list[str] = Field(default_factory=list, max_length=50)
    resource_id: ResourceId | None = None
    scalable_dimension: ScalableDimension | None = None
    max_results: int = Field(50, ge=1, le=50)
    next_token: str | None = None


class DescribeScalingPoliciesResponse(Response):
    scaling_policies: list[ScalingPolicy]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {
        "scaling_policies": ["policy_name", "resource_id", "policy_type", "creation_time"]}


class DescribeScalingActivitiesRequest(Request):
    service_namespace: ServiceNamespace = NAMESPACE
    resource_id: ResourceId | None = None
    scalable_dimension: ScalableDimension | None = None
    max_results: int = Field(50, ge=1, le=50)
    next_token: str | None = None


class DescribeScalingActivitiesResponse(Response):
    scaling_activities: list[ScalingActivity]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {
        "scaling_activities": ["resource_id", "status_code", "description", "start_time", "end_time"]}
