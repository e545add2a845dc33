"""Application Auto Scaling of endpoint variants: the target tracking decision worked by hand, the operations and
their errors, the autoscaler driven by the platform clock, and a real endpoint scaled out under load and back
in when the load stops."""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.core.errors import CrispmlError, InvalidArgument
from crispml.sdk.client import Client
from crispml.services.serving.runtime.autoscaler import (
    Cooldowns,
    combine,
    decide,
    evaluate,
    invocations_per_instance,
    tracked,
)
from crispml.services.serving.runtime.metrics import Meter
from crispml.services.serving.service import ServingService
from crispml.services.serving.store import EndpointRow
from tests.fixtures.homes import seed_home

BUCKET = "scaling-data"
RESOURCE = "endpoint/scaled/variant/main"
TARGET = {"service_namespace": "sagemaker", "resource_id": RESOURCE,
          "scalable_dimension": "sagemaker:variant:DesiredInstanceCount"}
METRIC = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the decision, worked by hand ------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "metric", "target", "low", "high", "expected"), [
    (1, 90.0, 30.0, 1, 5, 3),    # 1 × 90 / 30 = 3
    (2, 45.0, 30.0, 1, 5, 3),    # 2 × 45 / 30 = 3
    (2, 31.0, 30.0, 1, 5, 3),    # 2 × 31 / 30 = 2.07 → 3: never below the target's capacity
    (2, 30.0, 30.0, 1, 5, 2),    # exactly on target: no change (and no rounding up of 2.0000000001)
    (3, 0.1 * 3, 0.3, 1, 5, 3),  # 3 × 0.3 / 0.3 in floating point
    (3, 10.0, 30.0, 1, 5, 1),    # 3 × 10 / 30 = 1
    (4, 20.0, 30.0, 1, 5, 3),    # 4 × 20 / 30 = 2.67 → 3
    (1, 300.0, 30.0, 1, 3, 3),   # 10 wanted, MaxCapacity 3
    (3, 0.0, 30.0, 2, 3, 2),     # no traffic: down to MinCapacity, not to 0
])
def test_target_tracking_count(current: int, metric: float, target: float, low: int, high: int,
                               expected: int) -> None:
    assert tracked(current, metric, target, low, high) == expected


COOL = Cooldowns(scale_out=60, scale_in=120)


def test_scale_out_waits_for_its_own_cooldown_only() -> None:
    # 1 instance at 90 invocations/minute against a target of 30 wants 3
    assert decide(1, 90.0, 30.0, 1, 5, at(0), None, None, COOL, False) == 3
    assert decide(1, 90.0, 30.0, 1, 5, at(59), at(0), None, COOL, False) is None  # 59 s after a scale-out
    assert decide(1, 90.0, 30.0, 1, 5, at(60), at(0), None, COOL, False) == 3
    # a scale-in 1 s ago does not hold a scale-out back
    assert decide(1, 90.0, 30.0, 1, 5, at(1), None, at(0), COOL, False) == 3


def test_scale_in_waits_for_its_cooldown_after_any_activity() -> None:
    # 3 instances at 10 invocations/minute each against 30 wants 1
    assert decide(3, 10.0, 30.0, 1, 5, at(0), None, None, COOL, False) == 1
    assert decide(3, 10.0, 30.0, 1, 5, at(119), at(0), None, COOL, False) is None  # 119 s after a scale-out
    assert decide(3, 10.0, 30.0, 1, 5, at(120), at(0), None, COOL, False) == 1
    assert decide(3, 10.0, 30.0, 1, 5, at(150), at(0), at(100), COOL, False) is None  # 50 s after a scale-in
    assert decide(3, 10.0, 30.0, 1, 5, at(220), at(0), at(100), COOL, False) == 1


def test_disable_scale_in_keeps_capacity_but_still_scales_out() -> None:
    assert decide(3, 10.0, 30.0, 1, 5, at(1000), None, None, COOL, True) is None
    assert decide(3, 60.0, 30.0, 1, 8, at(1000), None, None, COOL, True) == 6


def test_on_target_or_at_a_bound_nothing_changes() -> None:
    assert decide(2, 30.0, 30.0, 1, 5, at(0), None, None, COOL, False) is None
    assert decide(3, 500.0, 30.0, 1, 3, at(0), None, None, COOL, False) is None  # already at MaxCapacity
    assert decide(1, 0.0, 30.0, 1, 3, at(0), None, None, COOL, False) is None  # already at MinCapacity


def test_policies_combine_out_when_any_asks_and_in_only_when_all_ask() -> None:
    assert combine(2, [3, None]) == 3
    assert combine(2, [3, 5, 1]) == 5
    assert combine(3, [1, None]) is None  # one policy keeps the capacity
    assert combine(3, [1, 2]) == 2  # both want fewer: the larger of their counts
    assert combine(3, []) is None


def test_invocations_per_instance_are_per_minute_over_the_window() -> None:
    meter = Meter()
    for now, count in ((10.0, 30), (50.0, 30), (100.0, 30)):  # three publications' windows of scaled/main
        for _ in range(count):
            meter.add("scaled", "main", 200, 1000.0, 100.0)
        meter.take(now)
    assert invocations_per_instance(meter, "scaled", "main", 2, 100.0, 60.0) == 30.0  # 60 in 60 s on 2 instances
    assert invocations_per_instance(meter, "scaled", "main", 1, 100.0, 20.0) == 90.0  # 30 in 20 s: 90 a minute
    assert invocations_per_instance(meter, "scaled", "other", 1, 100.0, 60.0) == 0.0


# -- homes -------------------------------------------------------------------------------------------------------


def _tar_gz(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def add_xgboost_model(client: Client, name: str) -> None:
    """A small binary xgboost model trained here on 300 rows, registered as ``name`` (image xgboost)."""
    import xgboost as xgb

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 5)
    client.lake.create_bucket(bucket=BUCKET)
    uri = f"lake://{BUCKET}/models/{name}/model.tar.gz"
    client.fs.pipe_file(uri, _tar_gz("xgboost-model", bytes(booster.save_raw("json"))))
    client.registry.create_model(model_name=name, primary_container={"Image": "xgboost", "ModelDataUrl": uri})


def open_home(home: Path, clock: FixedClock, template: Path, **settings: Any) -> Client:
    seed_home(home, template)
    return crispml.connect(home=str(home), clock=clock, **settings)


@pytest.fixture
def recorded(home: Path, clock: FixedClock, sqlite_template: Path) -> Iterator[Client]:
    """A home whose serving runtime never starts, with endpoint 'scaled' (variant 'main', 1 instance) shown
    InService: the operations record, nothing runs."""
    client = open_home(home, clock, sqlite_template, serving_autostart=False)
    add_xgboost_model(client, "scaled-model")
    client.serving.create_endpoint_config(endpoint_config_name="scaled-config", production_variants=[
        {"VariantName": "main", "ModelName": "scaled-model"}])
    client.serving.create_endpoint(endpoint_name="scaled", endpoint_config_name="scaled-config")
    set_endpoint(client, status="InService")
    yield client
    client.close()


def set_endpoint(client: Client, *, status: str, current: int | None = None) -> None:
    """Show endpoint 'scaled' as the supervisor would leave it: its status, and its variant's current count."""
    import json

    with client.platform.db.write() as session:
        row = session.get(EndpointRow, "scaled")
        assert row is not None
        row.status = status
        if current is not None:
            states = json.loads(row.variants)
            states[0]["current_instance_count"] = current
            row.variants = json.dumps(states)


def variant(client: Client) -> Any:
    return client.serving.describe_endpoint(endpoint_name="scaled").production_variants[0]


def policy(target_value: float, **more: Any) -> dict[str, Any]:
    return {"TargetValue": target_value, "PredefinedMetricSpecification": METRIC, **more}


# -- the operations ---------------------------------------------------------------------------------------------


def test_targets_and_policies_are_registered_described_and_removed(recorded: Client) -> None:
    serving = recorded.serving
    arn = serving.register_scalable_target({"ServiceNamespace": "sagemaker", "ResourceId": RESOURCE,
                                            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                                            "MinCapacity": 1, "MaxCapacity": 3, "RoleARN": "arn:role"})
    assert arn.scalable_target_arn.startswith("arn:aws:application-autoscaling:")
    (target,) = serving.describe_scalable_targets(service_namespace="sagemaker").scalable_targets
    assert (target.resource_id, target.min_capacity, target.max_capacity, target.role_arn) == (
        RESOURCE, 1, 3, "arn:role")
    assert target.scalable_target_arn == arn.scalable_target_arn
    assert not target.suspended_state.dynamic_scaling_in_suspended

    # registering again changes what is given, keeps the rest
    serving.register_scalable_target(**TARGET, max_capacity=5,
                                     suspended_state={"DynamicScalingInSuspended": True})
    (target,) = serving.describe_scalable_targets(resource_ids=[RESOURCE]).scalable_targets
    assert (target.min_capacity, target.max_capacity, target.role_arn) == (1, 5, "arn:role")
    assert target.suspended_state.dynamic_scaling_in_suspended
    assert not target.suspended_state.dynamic_scaling_out_suspended
    assert serving.describe_scalable_targets(resource_ids=["endpoint/other/variant/main"]).scalable_targets == []

    put = serving.put_scaling_policy(**TARGET, policy_name="on-invocations", policy_type="TargetTrackingScaling",
                                     target_tracking_scaling_policy_configuration=policy(30, ScaleInCooldown=600))
    assert ":scalingPolicy:" in put.policy_arn and put.policy_arn.endswith(
        f"resource/sagemaker/{RESOURCE}:policyName/on-invocations")
    serving.put_scaling_policy(**TARGET, policy_name="on-invocations",  # the same name replaces the policy
                               target_tracking_scaling_policy_configuration=policy(50, DisableScaleIn=True))
    serving.put_scaling_policy(**TARGET, policy_name="second", target_tracking_scaling_policy_configuration=policy(80))
    policies = serving.describe_scaling_policies(resource_id=RESOURCE).scaling_policies
    assert [(p.policy_name, p.target_tracking_scaling_policy_configuration.target_value) for p in policies] == [
        ("on-invocations", 50.0), ("second", 80.0)]
    first = policies[0]
    assert first.policy_arn == put.policy_arn
    assert first.target_tracking_scaling_policy_configuration.disable_scale_in
    assert first.target_tracking_scaling_policy_configuration.scale_in_cooldown is None  # replaced, not merged
    assert first.alarms == []
    assert [p.policy_name for p in serving.describe_scaling_policies(policy_names=["second"]).scaling_policies] == [
        "second"]
    page = serving.describe_scaling_policies(max_results=1)
    assert [p.policy_name for p in page.scaling_policies] == ["on-invocations"]
    rest = serving.describe_scaling_policies(max_results=1, next_token=page.next_token)
    assert [p.policy_name for p in rest.scaling_policies] == ["second"] and rest.next_token is None

    serving.delete_scaling_policy(**TARGET, policy_name="second")
    assert [p.policy_name for p in serving.describe_scaling_policies().scaling_policies] == ["on-invocations"]
    serving.deregister_scalable_target(**TARGET)  # its policies go with it
    assert serving.describe_scalable_targets().scalable_targets == []
    assert serving.describe_scaling_policies().scaling_policies == []
    assert variant(recorded).desired_instance_count == 1  # deregistering leaves the count as it is


def test_registration_moves_the_count_into_the_range(recorded: Client) -> None:
    set_endpoint(recorded, status="Creating")
    with pytest.raises(InvalidArgument, match="outside \\[2, 4\\], and cannot be changed while the endpoint is "
                                              "Creating") as info:
        recorded.serving.register_scalable_target(**TARGET, min_capacity=2, max_capacity=4)
    assert info.value.code == "ValidationException"
    set_endpoint(recorded, status="InService")
    recorded.serving.register_scalable_target(**TARGET, min_capacity=2, max_capacity=4)
    described = recorded.serving.describe_endpoint(endpoint_name="scaled")
    assert described.endpoint_status == "Updating"
    assert described.production_variants[0].desired_instance_count == 2
    (activity,) = recorded.serving.describe_scaling_activities(resource_id=RESOURCE).scaling_activities
    assert (activity.description, activity.status_code) == ("Setting desired instance count to 2.", "InProgress")
    assert "MinCapacity 2" in activity.cause

    set_endpoint(recorded, status="InService", current=2)
    recorded.serving.register_scalable_target(**TARGET, min_capacity=1, max_capacity=2)  # 2 is in [1, 2]: stays
    assert variant(recorded).desired_instance_count == 2
    assert recorded.serving.describe_endpoint(endpoint_name="scaled").endpoint_status == "InService"


@pytest.mark.parametrize(("operation", "fields", "code", "message"), [
    ("register_scalable_target", {**TARGET, "resource_id": "endpoint/scaled/variant/other", "min_capacity": 1,
                                  "max_capacity": 2}, "ValidationException", "has no variant 'other'"),
    ("register_scalable_target", {**TARGET, "resource_id": "endpoint/scaler/variant/main", "min_capacity": 1,
                                  "max_capacity": 2}, "ValidationException", "did you mean 'scaled'"),
    ("register_scalable_target", {**TARGET, "resource_id": "scaled/main", "min_capacity": 1, "max_capacity": 2},
     "ValidationException", "endpoint/<EndpointName>/variant/<VariantName>"),
    ("register_scalable_target", {**TARGET, "service_namespace": "ecs", "min_capacity": 1, "max_capacity": 2},
     "ValidationException", "ServiceNamespace 'ecs'"),
    ("register_scalable_target", {**TARGET, "scalable_dimension": "ecs:service:DesiredCount", "min_capacity": 1,
                                  "max_capacity": 2}, "ValidationException", "ScalableDimension"),
    ("register_scalable_target", TARGET, "ValidationException", "MinCapacity and MaxCapacity are required"),
    ("register_scalable_target", {**TARGET, "min_capacity": 3, "max_capacity": 2}, "ValidationException",
     r"MinCapacity \(3\) must not be greater than MaxCapacity \(2\)"),
    ("register_scalable_target", {**TARGET, "min_capacity": 0, "max_capacity": 2}, "ValidationException",
     "MinCapacity 0 is out of range"),
    ("register_scalable_target", {**TARGET, "min_capacity": 1, "max_capacity": 17}, "ValidationException",
     "MaxCapacity 17 is out of range"),
    ("deregister_scalable_target", TARGET, "ObjectNotFoundException",
     f"No scalable target registered for service namespace: sagemaker, resource ID: {RESOURCE}"),
    ("put_scaling_policy", {**TARGET, "policy_name": "p", "target_tracking_scaling_policy_configuration":
                            policy(30)}, "ObjectNotFoundException", "No scalable target registered"),
    ("delete_scaling_policy", {**TARGET, "policy_name": "p"}, "ObjectNotFoundException",
     "No scaling policy found for service namespace: sagemaker"),
    ("describe_scaling_activities", {"next_token": "not-a-token"}, "InvalidNextTokenException", "NextToken"),
])
def test_errors_have_application_auto_scaling_codes(recorded: Client, operation: str, fields: dict[str, Any],
                                                    code: str, message: str) -> None:
    with pytest.raises(CrispmlError, match=message) as info:
        getattr(recorded.serving, operation)(**fields)
    assert info.value.code == code
    assert recorded.serving.describe_scalable_targets().scalable_targets == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"target_tracking_scaling_policy_configuration": policy(0)}, "TargetValue 0.0 must be above 0"),
    ({"target_tracking_scaling_policy_configuration": {"TargetValue": 30, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}}}, "is not supported"),
    ({"target_tracking_scaling_policy_configuration": {"TargetValue": 30}}, "needs a PredefinedMetricSpecification"),
    ({"target_tracking_scaling_policy_configuration": {"TargetValue": 30, "CustomizedMetricSpecification": {
        "MetricName": "CPUUtilization"}}}, "CustomizedMetricSpecification is not supported"),
    ({"target_tracking_scaling_policy_configuration": policy(30, ScaleInCooldown=-1)}, "ScaleInCooldown -1"),
    ({"policy_type": "StepScaling", "target_tracking_scaling_policy_configuration": policy(30)},
     "PolicyType 'StepScaling' is not supported"),
    ({}, "needs a TargetTrackingScalingPolicyConfiguration"),
])
def test_a_policy_application_auto_scaling_would_refuse_is_refused(recorded: Client, fields: dict[str, Any],
                                                                   message: str) -> None:
    recorded.serving.register_scalable_target(**TARGET, min_capacity=1, max_capacity=3)
    with pytest.raises(InvalidArgument, match=message) as info:
        recorded.serving.put_scaling_policy(**TARGET, policy_name="p", **fields)
    assert info.value.code == "ValidationException"
    assert recorded.serving.describe_scaling_policies().scaling_policies == []


# -- the autoscaler, on the platform clock -----------------------------------------------------------------------


def invocations(meter: Meter, count: int, now: float) -> None:
    """``count`` invocations of scaled/main counted by the front, then taken by a publication at ``now``."""
    for _ in range(count):
        meter.add("scaled", "main", 200, 1000.0, 100.0)
    meter.take(now)


def test_the_autoscaler_scales_out_then_in_after_the_cooldowns(recorded: Client, clock: FixedClock) -> None:
    serving = recorded.platform.peer(ServingService)
    recorded.serving.register_scalable_target(**TARGET, min_capacity=1, max_capacity=3)
    recorded.serving.put_scaling_policy(**TARGET, policy_name="p", target_tracking_scaling_policy_configuration=policy(
        30, ScaleOutCooldown=60, ScaleInCooldown=120))
    meter = Meter()
    invocations(meter, 90, 100.0)  # 90 in the last minute on 1 instance: 90 per instance per minute

    (decision,) = evaluate(serving, meter, {("scaled", "main"): 1}, 101.0)
    assert (decision.current, decision.count) == (1, 3)  # ceil(1 × 90 / 30)
    described = recorded.serving.describe_endpoint(endpoint_name="scaled")
    assert described.endpoint_status == "Updating"
    assert described.production_variants[0].desired_instance_count == 3
    (activity,) = recorded.serving.describe_scaling_activities().scaling_activities
    assert (activity.description, activity.status_code) == ("Setting desired instance count to 3.", "InProgress")
    assert "90 invocations per instance per minute" in activity.cause and "'p' (target 30)" in activity.cause
    assert evaluate(serving, meter, {("scaled", "main"): 1}, 102.0) == []  # Updating: left to the supervisor

    set_endpoint(recorded, status="InService", current=3)  # the supervisor started two instances
    assert evaluate(serving, meter, {("scaled", "main"): 3}, 200.0) == []  # no traffic, but in the cooldown
    (activity,) = recorded.serving.describe_scaling_activities().scaling_activities
    assert activity.status_code == "Successful" and activity.end_time is not None
    assert activity.status_message == ("Successfully set desired instance count to 3. Change successfully "
                                       "fulfilled by sagemaker.")

    clock.advance(seconds=119)
    assert evaluate(serving, meter, {("scaled", "main"): 3}, 300.0) == []  # 119 s after the scale-out
    clock.advance(seconds=1)
    (decision,) = evaluate(serving, meter, {("scaled", "main"): 3}, 301.0)
    assert (decision.current, decision.count) == (3, 1)  # nothing in the last minute: MinCapacity
    assert variant(recorded).desired_instance_count == 1
    latest, first = recorded.serving.describe_scaling_activities().scaling_activities
    assert latest.description == "Setting desired instance count to 1." and "below the target" in latest.cause
    assert latest.start_time > first.start_time


def test_the_autoscaler_honours_suspension_and_disabled_scale_in(recorded: Client, clock: FixedClock) -> None:
    serving = recorded.platform.peer(ServingService)
    recorded.serving.register_scalable_target(**TARGET, min_capacity=1, max_capacity=3,
                                              suspended_state={"DynamicScalingOutSuspended": True})
    recorded.serving.put_scaling_policy(**TARGET, policy_name="p", target_tracking_scaling_policy_configuration=policy(
        30, DisableScaleIn=True))
    meter = Meter()
    invocations(meter, 90, 100.0)
    assert evaluate(serving, meter, {("scaled", "main"): 1}, 101.0) == []  # scale-out suspended
    recorded.serving.register_scalable_target(**TARGET, suspended_state={"DynamicScalingOutSuspended": False})
    (decision,) = evaluate(serving, meter, {("scaled", "main"): 1}, 101.0)
    assert decision.count == 3
    set_endpoint(recorded, status="InService", current=3)
    clock.advance(seconds=3600)
    assert evaluate(serving, meter, {("scaled", "main"): 3}, 4000.0) == []  # DisableScaleIn: capacity kept
    assert variant(recorded).desired_instance_count == 3


# -- a real endpoint under load ------------------------------------------------------------------------------------


class Load:
    """Requests to an endpoint from a thread, one every 0.1 s, until stopped; statuses kept."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url, self.body = url, body
        self.statuses: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as http:
            while not self.stopped.is_set():
                answer = http.post(f"{self.url}/invocations", content=self.body, headers={"Content-Type": "text/csv"})
                self.statuses.append(answer.status_code)
                time.sleep(0.1)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)


def wait_for(client: Client, what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        described = client.serving.describe_endpoint(endpoint_name="scaled")
        if check(described):
            return described
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s: {described}"
        time.sleep(0.2)


def in_service(described: Any) -> int:
    return len([i for i in described.production_variants[0].instances if i.status == "InService"])


def test_an_endpoint_scales_out_under_load_and_back_in_when_it_stops(home: Path, clock: FixedClock,
                                                                     sqlite_template: Path) -> None:
    client = open_home(home, clock, sqlite_template, serving_scaling_period=4.0)  # a 4 s metric window
    try:
        add_xgboost_model(client, "scaled-model")
        client.serving.create_endpoint_config(endpoint_config_name="scaled-config", production_variants=[
            {"VariantName": "main", "ModelName": "scaled-model"}])
        client.serving.create_endpoint(endpoint_name="scaled", endpoint_config_name="scaled-config")
        described = wait_for(client, "InService", lambda d: d.endpoint_status in ("InService", "Failed"))
        assert described.endpoint_status == "InService", described.failure_reason
        assert client.serving.invoke_endpoint(endpoint_name="scaled", body=b"0.5,0.1,-0.2\n").body.read()

        with Load(str(described.runtime_url), b"0.5,0.1,-0.2\n") as load:  # ~600 a minute: 20 times the target
            while len(load.statuses) < 10:  # under way before the policy is, so it sees the load at once
                time.sleep(0.05)
            client.serving.register_scalable_target(**TARGET, min_capacity=1, max_capacity=3)
            client.serving.put_scaling_policy(**TARGET, policy_name="on-invocations",
                                              target_tracking_scaling_policy_configuration=policy(
                                                  30, ScaleOutCooldown=1, ScaleInCooldown=2))
            wait_for(client, "scaled out", lambda d: d.production_variants[0].desired_instance_count > 1)
            wait_for(client, "more instances in service", lambda d: d.endpoint_status == "InService"
                     and d.production_variants[0].current_instance_count > 1
                     and in_service(d) == d.production_variants[0].current_instance_count)
        assert load.statuses and set(load.statuses) == {200}

        wait_for(client, "scaled back in", lambda d: d.endpoint_status == "InService"
                 and d.production_variants[0].desired_instance_count == 1
                 and d.production_variants[0].current_instance_count == 1 and in_service(d) == 1)
        activities = client.serving.describe_scaling_activities(resource_id=RESOURCE).scaling_activities
        assert activities[0].description == "Setting desired instance count to 1."
        assert "below the target" in activities[0].cause
        # each activity's cause ends "N → M instances"; on its way back in it may stop at 2 before 1
        moves = [(a, *map(int, re.search(r"(\d+) → (\d+) instances", a.cause).groups())) for a in activities]
        scaled_out = [a for a, before, after in moves if after > before]
        assert scaled_out and all("above the target" in a.cause for a in scaled_out)
        assert all("below the target" in a.cause for a, before, after in moves if after < before)
        assert all(a.status_code == "Successful" for a in activities[1:])
    finally:
        client.serving.stop_runtime()
        client.close()
