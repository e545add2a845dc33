"""The serving runtime's autoscaler: Application Auto Scaling's target tracking, evaluated in the runtime.

:func:`evaluate` runs in the supervisor's loop after each publication of the
metrics (every ``PUBLISH_SECONDS``). For each scalable target of an endpoint
that is ``InService``, it measures the variant's
``SageMakerVariantInvocationsPerInstance`` — invocations per instance per
minute, as CloudWatch's metric is — from the meter's recent windows over the
last ``serving_scaling_period`` seconds (60, CloudWatch's period; scaled to a
minute, and over less when the runtime has run for less), asks each policy
for a count (:func:`decide`) and, when they call for a change, writes the
variant's new desired instance count into the endpoint's row (``Updating``:
the supervisor's reconcile starts or drains instances and sets it
``InService`` again), the target's last scale-out or scale-in time and a
scaling activity, in one transaction. An activity stays ``InProgress`` until
the endpoint is ``InService`` again (``Successful``) or ``Failed``.

Several policies on one target combine as Application Auto Scaling combines
them: the target scales out when any policy asks, to the largest count asked,
and scales in only when every policy asks to. Cooldowns are kept on the
platform clock in the target's row, so they hold across runtime restarts and
tests can move time. It does not evaluate CloudWatch alarms, step scaling or
scheduled actions.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.clock import as_utc
from crispml.services.serving.scaling import activity
from crispml.services.serving.scaling_specs import (
    DEFAULT_SCALE_IN_COOLDOWN,
    DEFAULT_SCALE_OUT_COOLDOWN,
    METRIC,
    TargetTrackingScalingPolicyConfiguration,
    split_resource_id,
)
from crispml.services.serving.store import (
    EndpointRow,
    RuntimeRow,
    ScalableTargetRow,
    ScalingActivityRow,
    ScalingPolicyRow,
)

if TYPE_CHECKING:
    from crispml.services.serving.runtime.metrics import Meter
    from crispml.services.serving.service import ServingService


class Cooldowns(NamedTuple):
    """A policy's cooldowns, in seconds."""

    scale_out: float = DEFAULT_SCALE_OUT_COOLDOWN
    scale_in: float = DEFAULT_SCALE_IN_COOLDOWN


def tracked(current: int, metric: float, target: float, min_capacity: int, max_capacity: int) -> int:
    """Target tracking's count: the instances that bring ``metric`` (per instance, now ``current`` of them) to
    ``target`` — ceil(current × metric / target) — within [min_capacity, max_capacity]."""
    wanted = math.ceil(current * metric / target - 1e-9)  # 2 × 30 / 30 is 2, not 3 by a rounding error
    return min(max(wanted, min_capacity), max_capacity)


def decide(current: int, metric: float, target: float, min_capacity: int, max_capacity: int, now: datetime,
           last_out: datetime | None, last_in: datetime | None, cooldowns: Cooldowns,
           disable_scale_in: bool) -> int | None:
    """The count one target tracking policy sets now, or None to leave ``current`` as it is.

    Out (a count above ``current``) only once ``cooldowns.scale_out`` seconds have passed since the last
    scale-out; a scale-in's cooldown does not hold it back. In only when scale-in is not disabled and
    ``cooldowns.scale_in`` seconds have passed since the last scaling activity, out or in.
    """
    wanted = tracked(current, metric, target, min_capacity, max_capacity)
    if wanted > current:
        if last_out is not None and (now - last_out).total_seconds() < cooldowns.scale_out:
            return None
        return wanted
    if wanted < current:
        last = max((t for t in (last_out, last_in) if t is not None), default=None)
        if disable_scale_in or (last is not None and (now - last).total_seconds() < cooldowns.scale_in):
            return None
        return wanted
    return None


def combine(current: int, counts: list[int | None]) -> int | None:
    """Several policies' answers as one: out to the largest count any asks; in only when all ask, to the largest
    count asked."""
    out = [c for c in counts if c is not None and c > current]
    if out:
        return max(out)
    if counts and all(c is not None and c < current for c in counts):
        return max(c for c in counts if c is not None)
    return None


def invocations_per_instance(meter: Meter, endpoint: str, variant: str, instances: int, now: float,
                             seconds: float) -> float:
    """SageMakerVariantInvocationsPerInstance: the variant's invocations over the last ``seconds`` (monotonic
    ``now``), per instance, per minute."""
    return meter.invocations_since(endpoint, variant, now - seconds) * 60.0 / seconds / max(1, instances)


@dataclass
class Decision:
    """A change the autoscaler made: a variant's desired instance count, and why."""

    resource_id: str
    current: int
    count: int
    cause: str


def evaluate(service: ServingService, meter: Meter, in_service: dict[tuple[str, str], int],
             now_monotonic: float) -> list[Decision]:
    """Settle finished scaling activities, then apply every scalable target's policies (see the module
    docstring); the changes made. One target's failure is reported on stderr and does not stop the others."""
    now = service.clock.now()
    _settle(service, now)
    with service.db.read() as session:
        targets = list(session.scalars(select(ScalableTargetRow)))
        if not targets:
            return []
        policies: dict[str, list[ScalingPolicyRow]] = {}
        for policy in session.scalars(select(ScalingPolicyRow).order_by(ScalingPolicyRow.policy_name)):
            policies.setdefault(policy.resource_id, []).append(policy)
        names = {split_resource_id(t.resource_id)[0] for t in targets}
        endpoints = {r.name: r for r in session.scalars(select(EndpointRow).where(EndpointRow.name.in_(names)))}
        runtime = session.get(RuntimeRow, "runtime")
        session.expunge_all()
    seconds = service.runtime.settings.serving_scaling_period
    if runtime is not None:  # the meter counts since the runtime started: a younger one measures over less
        seconds = max(1.0, min(seconds, (now - as_utc(runtime.started_at)).total_seconds()))
    decisions = []
    for target in targets:
        try:
            decision = _evaluate_target(target, policies.get(target.resource_id, []), endpoints, meter, in_service,
                                        now, now_monotonic, seconds)
            if decision is not None and _apply(service, target.resource_id, decision, now):
                decisions.append(decision)
        except Exception:
            print(f"crispml runtime: autoscaling of {target.resource_id} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
    return decisions


def _evaluate_target(target: ScalableTargetRow, policies: list[ScalingPolicyRow], endpoints: dict[str, EndpointRow],
                     meter: Meter, in_service: dict[tuple[str, str], int], now: datetime, now_monotonic: float,
                     seconds: float) -> Decision | None:
    endpoint, variant = split_resource_id(target.resource_id)
    row = endpoints.get(endpoint)
    if not policies or row is None or row.status != "InService" or row.pending_config is not None:
        return None  # as on SageMaker, an endpoint changes only when InService
    state = next((s for s in json.loads(row.variants) if s["variant_name"] == variant), None)
    instances = in_service.get((endpoint, variant), 0)
    if state is None or instances == 0:
        return None
    current = int(state["desired_instance_count"])
    metric = invocations_per_instance(meter, endpoint, variant, instances, now_monotonic, seconds)
    last_out = as_utc(target.last_scale_out_at) if target.last_scale_out_at else None
    last_in = as_utc(target.last_scale_in_at) if target.last_scale_in_at else None
    counts: list[int | None] = []
    for policy in policies:
        config = TargetTrackingScalingPolicyConfiguration.model_validate(json.loads(policy.configuration))
        cooldowns = Cooldowns(
            DEFAULT_SCALE_OUT_COOLDOWN if config.scale_out_cooldown is None else config.scale_out_cooldown,
            DEFAULT_SCALE_IN_COOLDOWN if config.scale_in_cooldown is None else config.scale_in_cooldown)
        counts.append(decide(current, metric, config.target_value, target.min_capacity, target.max_capacity, now,
                             last_out, last_in, cooldowns, config.disable_scale_in))
    count = combine(current, counts)
    suspended = json.loads(target.suspended_state or "{}")
    if count is None or suspended.get("dynamic_scaling_out_suspended" if count > current
                                     else "dynamic_scaling_in_suspended"):
        return None
    deciding = [(p.policy_name, json.loads(p.configuration)["target_value"]) for p, c in zip(policies, counts,
                                                                                           strict=True) if c == count]
    named = ", ".join(f"policy {name!r} (target {value:g})" for name, value in deciding)
    cause = (f"{METRIC} was {metric:.4g} invocations per instance per minute over the last {seconds:.0f} s, "
             f"{'above' if count > current else 'below'} the target of {named}: {current} → {count} instances")
    return Decision(target.resource_id, current, count, cause)


def _apply(service: ServingService, resource_id: str, decision: Decision, now: datetime) -> bool:
    """Write a decision, unless the endpoint changed since it was read; whether it was written."""
    endpoint, variant = split_resource_id(resource_id)

    def write(session: Session) -> bool:
        row = session.get(EndpointRow, endpoint, with_for_update=True)
        target = session.get(ScalableTargetRow, resource_id, with_for_update=True)
        if row is None or target is None or row.status != "InService" or row.pending_config is not None:
            return False
        states = json.loads(row.variants)
        state = next((s for s in states if s["variant_name"] == variant), None)
        if state is None or int(state["desired_instance_count"]) != decision.current:
            return False
        state["desired_instance_count"] = decision.count
        row.variants, row.status, row.modified_at = json.dumps(states), "Updating", now
        if decision.count > decision.current:
            target.last_scale_out_at = now
        else:
            target.last_scale_in_at = now
        session.add(activity(resource_id, decision.count, decision.cause, now))
        return True
    return service.db.transact(write)


def _settle(service: ServingService, now: datetime) -> None:
    """End the activities in progress whose endpoint has settled: Successful once it is InService again, Failed
    when it failed or is gone."""
    with service.db.read() as session:
        pending = list(session.scalars(select(ScalingActivityRow.resource_id)
                                       .where(ScalingActivityRow.status_code == "InProgress")))
    if not pending:
        return

    def settle(session: Session) -> None:
        for row in session.scalars(select(ScalingActivityRow).where(ScalingActivityRow.status_code == "InProgress")
                                   .with_for_update()):
            endpoint, variant = split_resource_id(row.resource_id)
            found = session.get(EndpointRow, endpoint)
            if found is None:
                row.status_code, row.status_message = "Failed", f"endpoint {endpoint!r} was deleted"
            elif found.status == "Failed":
                row.status_code, row.status_message = "Failed", found.failure_reason
            elif found.status == "InService" and found.pending_config is None:
                state = next((s for s in json.loads(found.variants) if s["variant_name"] == variant), None)
                count = state["current_instance_count"] if state else 0
                row.status_code = "Successful"
                row.status_message = (f"Successfully set desired instance count to {count}. Change successfully "
                                      "fulfilled by sagemaker.")
            else:
                continue
            row.end_time = now
    service.db.transact(settle)
