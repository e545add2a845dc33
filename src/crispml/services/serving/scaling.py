"""Application Auto Scaling for endpoint variants: ``RegisterScalableTarget``, ``DescribeScalableTargets``,
``DeregisterScalableTarget``, ``PutScalingPolicy``, ``DescribeScalingPolicies``, ``DeleteScalingPolicy`` and
``DescribeScalingActivities``.

The operations record scalable targets (a variant's instance count between
``MinCapacity`` and ``MaxCapacity``) and target tracking policies on them;
they scale nothing themselves, but for one thing SageMaker does at
registration: a variant whose desired count lies outside the new range is
moved into it at once. The serving runtime's autoscaler
(``runtime/autoscaler.py``) evaluates the policies against the invocations it
counts and changes the variants' desired counts, recording a scaling activity
each time. No CloudWatch alarm is made for a policy (``Alarms`` is empty): the
runtime reads its own counts.
"""

from __future__ import annotations

import difflib
import json
import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.serving.core import PREFIX
from crispml.services.serving.errors import InvalidNextTokenException, ObjectNotFoundException, ValidationException
from crispml.services.serving.runtime import control
from crispml.services.serving.scaling_specs import (
    DIMENSION,
    NAMESPACE,
    DeleteScalingPolicyRequest,
    DeregisterScalableTargetRequest,
    DescribeScalableTargetsRequest,
    DescribeScalableTargetsResponse,
    DescribeScalingActivitiesRequest,
    DescribeScalingActivitiesResponse,
    DescribeScalingPoliciesRequest,
    DescribeScalingPoliciesResponse,
    PutScalingPolicyRequest,
    PutScalingPolicyResponse,
    RegisterScalableTargetRequest,
    RegisterScalableTargetResponse,
    ScalableTarget,
    ScalingActivity,
    ScalingPolicy,
    SuspendedState,
    TargetTrackingScalingPolicyConfiguration,
    split_resource_id,
)
from crispml.services.serving.specs import EmptyResponse
from crispml.services.serving.store import EndpointRow, ScalableTargetRow, ScalingActivityRow, ScalingPolicyRow
from crispml.spine.operations import RuntimeAccess, operation

_ARN = PREFIX.replace(":sagemaker:", ":application-autoscaling:")


def target_crn(resource_id: str | None) -> str:
    return crn("serving", f"scalable-target/{resource_id or '*'}")


def target_arn(resource_id: str) -> str:
    return f"{_ARN}:scalable-target/{uuid.uuid5(uuid.NAMESPACE_URL, resource_id).hex}"


def policy_arn(resource_id: str, policy_name: str) -> str:
    policy_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{resource_id}/{policy_name}")
    return (f"{PREFIX.replace(':sagemaker:', ':autoscaling:')}:scalingPolicy:{policy_id}:resource/{NAMESPACE}/"
            f"{resource_id}:policyName/{policy_name}")


def no_target(resource_id: str) -> ObjectNotFoundException:
    return ObjectNotFoundException(f"No scalable target registered for service namespace: {NAMESPACE}, resource ID: "
                                   f"{resource_id}, scalable dimension: {DIMENSION}; register it first "
                                   "(crispml serving register-scalable-target)")


def activity(resource_id: str, count: int, cause: str, now: datetime) -> ScalingActivityRow:
    """A scaling activity setting a variant's desired instance count, in progress until the endpoint is InService
    again (the autoscaler settles it)."""
    return ScalingActivityRow(activity_id=str(uuid.uuid4()), resource_id=resource_id, scalable_dimension=DIMENSION,
                              description=f"Setting desired instance count to {count}.", cause=cause,
                              status_code="InProgress", start_time=now)


class ScalingOps(RuntimeAccess):
    """Application Auto Scaling of endpoint variants: scalable targets, target tracking policies, activities."""

    @operation("RegisterScalableTarget", resource=lambda r: target_crn(r.resource_id))
    def register_scalable_target(self, ctx: CallContext,
                                 request: RegisterScalableTargetRequest) -> RegisterScalableTargetResponse:
        """Let a variant's instance count scale between MinCapacity and MaxCapacity (again: change them).

        Registering again changes what is given. A count outside the range is moved into it at once."""
        endpoint, variant = split_resource_id(request.resource_id)
        now = self.clock.now()
        moved = False

        def register(session: Session) -> None:
            nonlocal moved
            row = session.get(EndpointRow, endpoint, with_for_update=True)
            if row is None:
                known = session.scalars(select(EndpointRow.name)).all()
                close = difflib.get_close_matches(endpoint, known, n=3)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise ValidationException(f"ResourceId {request.resource_id!r}: endpoint {endpoint!r} does not "
                                          f"exist{hint}; list them with 'crispml serving list-endpoints'")
            states = json.loads(row.variants)
            state = next((s for s in states if s["variant_name"] == variant), None)
            if state is None:
                raise ValidationException(f"ResourceId {request.resource_id!r}: endpoint {endpoint!r} has no variant "
                                          f"{variant!r} (its variants: {', '.join(s['variant_name'] for s in states)})")
            target = session.get(ScalableTargetRow, request.resource_id, with_for_update=True)
            low, high = request.min_capacity, request.max_capacity
            if target is not None:
                low = target.min_capacity if low is None else low
                high = target.max_capacity if high is None else high
            if low is None or high is None:
                raise ValidationException("MinCapacity and MaxCapacity are required to register a new scalable "
                                          f"target ({request.resource_id})")
            if low > high:
                raise ValidationException(f"MinCapacity ({low}) must not be greater than MaxCapacity ({high})")
            if target is None:
                target = ScalableTargetRow(resource_id=request.resource_id, scalable_dimension=DIMENSION,
                                           suspended_state="{}", created_at=now)
                session.add(target)
            target.min_capacity, target.max_capacity = low, high
            if request.role_arn is not None:
                target.role_arn = request.role_arn
            if request.suspended_state is not None:
                target.suspended_state = json.dumps({**json.loads(target.suspended_state or "{}"),
                                                     **request.suspended_state.model_dump(exclude_none=True)})
            current = int(state["desired_instance_count"])
            wanted = min(max(current, low), high)
            if wanted == current:
                return
            if row.status != "InService" or row.pending_config is not None:
                instances = f"{current} instance{'s' if current != 1 else ''}"
                raise ValidationException(f"variant {variant!r} of endpoint {endpoint!r} has {instances}, outside "
                                          f"[{low}, {high}], and cannot be changed while the endpoint is "
                                          f"{row.status}; register the target again once it is InService")
            state["desired_instance_count"] = wanted
            row.variants, row.status, row.modified_at = json.dumps(states), "Updating", now
            session.add(activity(request.resource_id, wanted, f"the scalable target was registered with "
                                 f"MinCapacity {low} and MaxCapacity {high}; the variant had {current} instances",
                                 now))
            moved = True
        self._writing(register)
        if moved:
            control.needed(self.runtime)
        return RegisterScalableTargetResponse(scalable_target_arn=target_arn(request.resource_id))

    @operation("DescribeScalableTargets", resource=lambda r: target_crn(r.resource_ids[0] if len(r.resource_ids) == 1
                                                                         else None), mutating=False)
    def describe_scalable_targets(self, ctx: CallContext,
                                  request: DescribeScalableTargetsRequest) -> DescribeScalableTargetsResponse:
        """List scalable targets (all, or those of ResourceIds), by resource id."""
        query = select(ScalableTargetRow).order_by(ScalableTargetRow.resource_id)
        if request.resource_ids:
            query = query.where(ScalableTargetRow.resource_id.in_(request.resource_ids))
        start = paging.offset_of(request.next_token, InvalidNextTokenException)
        with self._reading() as session:
            rows = list(session.scalars(query.offset(start).limit(request.max_results + 1)))
            targets = [ScalableTarget(
                service_namespace=NAMESPACE, resource_id=r.resource_id, scalable_dimension=r.scalable_dimension,
                min_capacity=r.min_capacity, max_capacity=r.max_capacity, role_arn=r.role_arn,
                creation_time=r.created_at, suspended_state=SuspendedState(**_suspended(r)),
                scalable_target_arn=target_arn(r.resource_id)) for r in rows[:request.max_results]]
        more = len(rows) > request.max_results
        return DescribeScalableTargetsResponse(
            scalable_targets=targets, next_token=paging.offset_token(start + request.max_results) if more else None)

    @operation("DeregisterScalableTarget", resource=lambda r: target_crn(r.resource_id))
    def deregister_scalable_target(self, ctx: CallContext, request: DeregisterScalableTargetRequest) -> EmptyResponse:
        """Stop scaling a variant: its scalable target and scaling policies go, its instance count stays.

        Its scaling activities stay listed."""
        def deregister(session: Session) -> None:
            target = session.get(ScalableTargetRow, request.resource_id, with_for_update=True)
            if target is None:
                raise no_target(request.resource_id)
            session.execute(delete(ScalingPolicyRow).where(ScalingPolicyRow.resource_id == request.resource_id))
            session.delete(target)
        self._writing(deregister)
        return EmptyResponse()

    @operation("PutScalingPolicy", resource=lambda r: target_crn(r.resource_id))
    def put_scaling_policy(self, ctx: CallContext, request: PutScalingPolicyRequest) -> PutScalingPolicyResponse:
        """Create or replace a target tracking policy: keep InvocationsPerInstance near TargetValue.

        The target must be registered. The metric is SageMakerVariantInvocationsPerInstance: invocations per
        instance per minute."""
        assert request.target_tracking_scaling_policy_configuration is not None  # the request checked it
        configuration = request.target_tracking_scaling_policy_configuration.model_dump(mode="json", exclude_none=True)
        now = self.clock.now()

        def put(session: Session) -> None:
            if session.get(ScalableTargetRow, request.resource_id) is None:
                raise no_target(request.resource_id)
            policy = session.get(ScalingPolicyRow, (request.resource_id, request.policy_name), with_for_update=True)
            if policy is None:
                policy = ScalingPolicyRow(resource_id=request.resource_id, policy_name=request.policy_name,
                                          scalable_dimension=DIMENSION, created_at=now)
                session.add(policy)
            policy.policy_type = request.policy_type
            policy.configuration = json.dumps(configuration)
        self._writing(put)
        return PutScalingPolicyResponse(policy_arn=policy_arn(request.resource_id, request.policy_name))

    @operation("DescribeScalingPolicies", resource=lambda r: target_crn(r.resource_id), mutating=False)
    def describe_scaling_policies(self, ctx: CallContext,
                                  request: DescribeScalingPoliciesRequest) -> DescribeScalingPoliciesResponse:
        """List scaling policies (all, of one target, or by name), by resource id and name."""
        query = select(ScalingPolicyRow).order_by(ScalingPolicyRow.resource_id, ScalingPolicyRow.policy_name)
        if request.resource_id is not None:
            query = query.where(ScalingPolicyRow.resource_id == request.resource_id)
        if request.policy_names:
            query = query.where(ScalingPolicyRow.policy_name.in_(request.policy_names))
        start = paging.offset_of(request.next_token, InvalidNextTokenException)
        with self._reading() as session:
            rows = list(session.scalars(query.offset(start).limit(request.max_results + 1)))
            policies = [ScalingPolicy(
                policy_arn=policy_arn(r.resource_id, r.policy_name), policy_name=r.policy_name,
                service_namespace=NAMESPACE, resource_id=r.resource_id, scalable_dimension=r.scalable_dimension,
                policy_type=r.policy_type, target_tracking_scaling_policy_configuration=
                TargetTrackingScalingPolicyConfiguration.model_validate(json.loads(r.configuration)),
                creation_time=r.created_at) for r in rows[:request.max_results]]
        more = len(rows) > request.max_results
        return DescribeScalingPoliciesResponse(
            scaling_policies=policies, next_token=paging.offset_token(start + request.max_results) if more else None)

    @operation("DeleteScalingPolicy", resource=lambda r: target_crn(r.resource_id))
    def delete_scaling_policy(self, ctx: CallContext, request: DeleteScalingPolicyRequest) -> EmptyResponse:
        """Delete a scaling policy (the variant keeps its instance count)."""
        def remove(session: Session) -> None:
            policy = session.get(ScalingPolicyRow, (request.resource_id, request.policy_name), with_for_update=True)
            if policy is None:
                raise ObjectNotFoundException(
                    f"No scaling policy found for service namespace: {NAMESPACE}, resource ID: {request.resource_id}, "
                    f"scalable dimension: {DIMENSION}, policy name: {request.policy_name}; list them with 'crispml "
                    "serving describe-scaling-policies'")
            session.delete(policy)
        self._writing(remove)
        return EmptyResponse()

    @operation("DescribeScalingActivities", resource=lambda r: target_crn(r.resource_id), mutating=False)
    def describe_scaling_activities(self, ctx: CallContext,
                                    request: DescribeScalingActivitiesRequest) -> DescribeScalingActivitiesResponse:
        """List scaling activities (all, or of one target), newest first."""
        query = select(ScalingActivityRow).order_by(ScalingActivityRow.start_time.desc(),
                                                    ScalingActivityRow.activity_id.desc())
        if request.resource_id is not None:
            query = query.where(ScalingActivityRow.resource_id == request.resource_id)
        start = paging.offset_of(request.next_token, InvalidNextTokenException)
        with self._reading() as session:
            rows = list(session.scalars(query.offset(start).limit(request.max_results + 1)))
            activities = [ScalingActivity(
                activity_id=r.activity_id, service_namespace=NAMESPACE, resource_id=r.resource_id,
                scalable_dimension=r.scalable_dimension, description=r.description, cause=r.cause,
                start_time=r.start_time, end_time=r.end_time, status_code=r.status_code,  # type: ignore[arg-type]
                status_message=r.status_message) for r in rows[:request.max_results]]
        more = len(rows) > request.max_results
        return DescribeScalingActivitiesResponse(
            scaling_activities=activities,
            next_token=paging.offset_token(start + request.max_results) if more else None)


def _suspended(row: ScalableTargetRow) -> dict[str, bool]:
    """A target's suspended state, every flag given (False unless suspended)."""
    given = json.loads(row.suspended_state or "{}")
    return {name: bool(given.get(name)) for name in SuspendedState.model_fields}
