"""The serving service (SageMaker hosting and SageMaker Runtime): one class combining the operations.

- ``CreateEndpointConfig``, ``DescribeEndpointConfig``,
  ``ListEndpointConfigs``, ``DeleteEndpointConfig`` (``configs.py``).
- ``CreateEndpoint``, ``DescribeEndpoint``, ``ListEndpoints``,
  ``UpdateEndpoint``, ``UpdateEndpointWeightsAndCapacities``,
  ``DeleteEndpoint`` and SageMaker Runtime's ``InvokeEndpoint``
  (``endpoints.py``), with crispml's ``StartRuntime``, ``StopRuntime`` and
  ``DescribeRuntime``.
- The runtime (``runtime/``): one process per home that serves every
  endpoint at ``POST /endpoints/{name}/invocations`` (``front.py``) and
  supervises the instance processes (``supervisor.py``, ``instance.py``),
  capturing data (``capture.py``) and counting invocations (``metrics.py``).
- Application Auto Scaling of endpoint variants (``scaling.py``):
  ``RegisterScalableTarget``, ``DescribeScalableTargets``,
  ``DeregisterScalableTarget``, ``PutScalingPolicy``,
  ``DescribeScalingPolicies``, ``DeleteScalingPolicy``,
  ``DescribeScalingActivities``; the runtime applies the policies
  (``runtime/autoscaler.py``).
- ``CreateTransformJob``, ``DescribeTransformJob``, ``ListTransformJobs``,
  ``StopTransformJob`` (``transform.py``): batch transform, each job in a
  worker process with instances of its own (``transform_run.py``), its
  records cut and assembled as SageMaker does (``transform_records.py``,
  ``jsonpath.py``).
"""

from __future__ import annotations

from crispml.services.serving.configs import ConfigOps
from crispml.services.serving.endpoints import EndpointOps
from crispml.services.serving.entities import (
    CaptureContentTypeHeader,
    CaptureOption,
    DataCaptureConfig,
    ProductionVariant,
    Tag,
)
from crispml.services.serving.errors import (
    ModelError,
    ResourceInUse,
    ResourceNotFound,
    RuntimeUnavailable,
    ValidationException,
)
from crispml.services.serving.scaling import ScalingOps
from crispml.services.serving.scaling_specs import (
    DeleteScalingPolicyRequest,
    DeregisterScalableTargetRequest,
    DescribeScalableTargetsRequest,
    DescribeScalingActivitiesRequest,
    DescribeScalingPoliciesRequest,
    PutScalingPolicyRequest,
    RegisterScalableTargetRequest,
    TargetTrackingScalingPolicyConfiguration,
)
from crispml.services.serving.specs import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    DesiredWeightAndCapacity,
    EndpointConfigRequest,
    EndpointRequest,
    InvokeEndpointRequest,
    ListEndpointConfigsRequest,
    ListEndpointsRequest,
    RuntimeRequest,
    UpdateEndpointRequest,
    UpdateEndpointWeightsAndCapacitiesRequest,
)
from crispml.services.serving.transform import TransformOps
from crispml.services.serving.transform_specs import (
    CreateTransformJobRequest,
    ListTransformJobsRequest,
    TransformJobRequest,
)
from crispml.spine.operations import Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CaptureContentTypeHeader",
    "CaptureOption",
    "CreateEndpointConfigRequest",
    "CreateEndpointRequest",
    "CreateTransformJobRequest",
    "DataCaptureConfig",
    "DeleteScalingPolicyRequest",
    "DeregisterScalableTargetRequest",
    "DescribeScalableTargetsRequest",
    "DescribeScalingActivitiesRequest",
    "DescribeScalingPoliciesRequest",
    "DesiredWeightAndCapacity",
    "EndpointConfigRequest",
    "EndpointRequest",
    "InvokeEndpointRequest",
    "ListEndpointConfigsRequest",
    "ListEndpointsRequest",
    "ListTransformJobsRequest",
    "ModelError",
    "ProductionVariant",
    "PutScalingPolicyRequest",
    "RegisterScalableTargetRequest",
    "ResourceInUse",
    "ResourceNotFound",
    "RuntimeRequest",
    "RuntimeUnavailable",
    "ServingService",
    "Tag",
    "TargetTrackingScalingPolicyConfiguration",
    "TransformJobRequest",
    "UpdateEndpointRequest",
    "UpdateEndpointWeightsAndCapacitiesRequest",
    "ValidationException",
]


class ServingService(Service, ConfigOps, EndpointOps, ScalingOps, TransformOps):
    """Endpoint configurations, endpoints and their runtime (SageMaker hosting), autoscaling, batch
    transform."""

    name = "serving"

    def supervise(self) -> int:
        """Run this home's serving runtime in this process until it is stopped (for ``python -m
        crispml.servingd``); 0 also when another process already runs it."""
        from crispml.services.serving.runtime.supervisor import Supervisor

        return Supervisor(self).run()
