"""Endpoints served by the runtime: boto3's sagemaker-runtime client unchanged, weighted and targeted variants,
shadow copies, data capture in SageMaker's format, metrics, errors in SageMaker Runtime's shapes, and the
registry's refusals (a model an endpoint serves, a rejected version)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
from botocore.config import Config

from crispml.core.errors import Conflict, InvalidArgument, NotFound
from crispml.sdk.client import Client
from tests.cli.support import Run
from tests.services.serving.support import (
    BUCKET,
    add_model,
    booster,
    csv,
    deploy,
    front_url,
    predict,
    rows,
)


def runtime_client(url: str) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}))


def _values(body: bytes) -> np.ndarray:
    return np.array([float(v) for v in body.decode().split()])


def test_boto3_invokes_weighted_variants_and_the_target_variant_header_overrides(serving: Client) -> None:
    model_a, model_b = booster(seed=0), booster(seed=1, rounds=3)
    add_model(serving, "model-a", model_a)
    add_model(serving, "model-b", model_b)
    described = deploy(serving, "churn", [
        {"VariantName": "A", "ModelName": "model-a", "InitialVariantWeight": 4},
        {"VariantName": "B", "ModelName": "model-b", "InitialVariantWeight": 1}])
    assert [(v.variant_name, v.current_weight, v.current_instance_count) for v in described.production_variants] == \
        [("A", 4.0, 1), ("B", 1.0, 1)]
    url = front_url(described)
    runtime = runtime_client(url)
    x, _ = rows(7, 400)
    expected = {"A": predict(model_a, x), "B": predict(model_b, x)}
    seen = {"A": 0, "B": 0}
    with httpx.Client() as http:  # the split over many requests (boto3 below: the same requests, slower to send)
        for i in range(len(x)):
            answer = http.post(f"{url}/endpoints/churn/invocations", content=csv(x[i:i + 1]),
                               headers={"Content-Type": "text/csv", "Accept": "text/csv"})
            variant = answer.headers["x-amzn-invoked-production-variant"]
            seen[variant] += 1
            assert float(answer.content) == pytest.approx(expected[variant][i], rel=1e-6)
    assert 0.72 < seen["A"] / len(x) < 0.88, seen  # 0.8 expected; 0.06 is about 4.5 standard deviations
    for i in range(10):
        answer = runtime.invoke_endpoint(EndpointName="churn", Body=csv(x[i:i + 1]), ContentType="text/csv",
                                         Accept="text/csv")
        variant = answer["InvokedProductionVariant"]
        assert _values(answer["Body"].read())[0] == pytest.approx(expected[variant][i], rel=1e-6)

    for _ in range(20):
        answer = runtime.invoke_endpoint(EndpointName="churn", Body=csv(x[:5]), ContentType="text/csv",
                                         TargetVariant="B", CustomAttributes="trace=1", InferenceId="req-42")
        assert answer["InvokedProductionVariant"] == "B"
        np.testing.assert_allclose(_values(answer["Body"].read()), expected["B"][:5], rtol=1e-6)

    through_sdk = serving.serving.invoke_endpoint(endpoint_name="churn", body=csv(x[:3]), content_type="text/csv",
                                                  accept="application/json", target_variant="A")
    assert through_sdk.invoked_production_variant == "A"
    assert through_sdk.content_type.startswith("application/json")
    scores = [p["score"] for p in json.loads(through_sdk.body.read())["predictions"]]
    np.testing.assert_allclose(scores, expected["A"][:3], rtol=1e-6)


def test_client_input_gets_sagemaker_runtime_errors_never_a_500(serving: Client, run: Run,
                                                               tmp_path: Path) -> None:
    model = booster()
    add_model(serving, "model-a", model)
    described = deploy(serving, "errs", [{"VariantName": "A", "ModelName": "model-a"}])
    # the command line, as the AWS CLI's invoke-endpoint: the body from a file, the answer to a file or stdout
    x, _ = rows(2, 3)
    (tmp_path / "rows.csv").write_bytes(csv(x))
    answered = run("serving", "invoke-endpoint", "errs", "--body", str(tmp_path / "rows.csv"), "--content-type",
                   "text/csv", "--accept", "text/csv", "-")
    assert answered.code == 0, answered.err
    np.testing.assert_allclose([float(v) for v in answered.out.split()], predict(model, x), rtol=1e-6)
    refused = run("serving", "invoke-endpoint", "errs", "--body", str(tmp_path / "rows.csv"), "--target-variant",
                  "Z", str(tmp_path / "out.json"))
    assert refused.code == 2 and "'Z'" in refused.err and "Traceback" not in refused.err

    url = front_url(described)
    runtime = runtime_client(url)

    def error_of(**call: Any) -> tuple[str, str, int]:
        with pytest.raises(Exception) as info:  # botocore's ClientError subclasses, by code
            runtime.invoke_endpoint(**{"EndpointName": "errs", "ContentType": "text/csv", **call})
        error = info.value.response  # type: ignore[attr-defined]
        return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]

    code, message, status = error_of(Body=b"1.0,abc,2.0\n")
    assert (code, status) == ("ValidationError", 400) and "cannot" in message
    code, message, status = error_of(Body=b"1.0,2.0\n")
    assert (code, status) == ("ValidationError", 400) and "3 features" in message and "have 2" in message
    code, message, status = error_of(Body=b"{not json", ContentType="application/json")
    assert (code, status) == ("ValidationError", 400)
    code, message, status = error_of(EndpointName="nowhere", Body=b"1,2,3")
    assert (code, status) == ("ValidationError", 400) and "nowhere" in message
    code, message, status = error_of(Body=b"1,2,3", TargetVariant="Z")
    assert (code, status) == ("ValidationError", 400) and "'Z'" in message
    big = httpx.post(f"{url}/endpoints/errs/invocations", content=b"1,2,3\n" * 1_200_000,
                     headers={"Content-Type": "text/csv"})
    assert big.status_code == 413 and big.headers["x-amzn-errortype"] == "ValidationError"
    with pytest.raises(InvalidArgument, match="6 MB"):
        serving.serving.invoke_endpoint(endpoint_name="errs", body=b"1,2,3\n" * 1_200_000)

    # a fuzz of bodies, content types and headers: never a 5xx
    rng = random.Random(5)
    alphabet = b"0123456789.,-eE \n\r\t{}[]\":abcxyz\x00\xff"
    statuses = []
    with httpx.Client() as http:
        for _ in range(300):
            body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
            headers = {"Content-Type": rng.choice(["text/csv", "application/json", "application/jsonlines",
                                                   "text/plain", "application/x-npy", "", "text/csv; charset=x"]),
                       "Accept": rng.choice(["*/*", "text/csv", "application/json", "image/png", ""])}
            if rng.random() < 0.1:
                headers["X-Amzn-SageMaker-Target-Variant"] = rng.choice(["A", "", "?", "A" * 80])
            statuses.append(http.post(f"{url}/endpoints/errs/invocations", content=body, headers=headers).status_code)
    assert [s for s in statuses if s >= 500] == []
    assert {s for s in statuses} <= {200, 400, 406, 415}


def _lake_lines(client: Client, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for key in client.fs.find(prefix):
        found[key] = [json.loads(line) for line in client.fs.cat_file(key).decode().splitlines()]
    return found


def _wait_lines(client: Client, prefix: str, count: int, timeout: float = 30.0) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while True:
        found = _lake_lines(client, prefix)
        if sum(map(len, found.values())) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_shadow_answers_are_captured_never_returned_and_capture_keeps_sagemakers_format(serving: Client) -> None:
    model_a, model_b = booster(seed=0), booster(seed=1, rounds=3)
    add_model(serving, "model-a", model_a)
    add_model(serving, "model-b", model_b)
    destination = f"lake://{BUCKET}/capture"
    described = deploy(serving, "shadowed", [{"VariantName": "live", "ModelName": "model-a"}],
                       shadow_production_variants=[{"VariantName": "shadow", "ModelName": "model-b",
                                                    "InitialVariantWeight": 1}],
                       data_capture_config={"InitialSamplingPercentage": 100, "DestinationS3Uri": destination,
                                            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    assert [v.variant_name for v in described.shadow_production_variants] == ["shadow"]
    assert described.data_capture_config is not None and described.data_capture_config.capture_status == "Started"
    runtime = runtime_client(front_url(described))
    x, _ = rows(3, 30)
    for i in range(len(x)):
        answer = runtime.invoke_endpoint(EndpointName="shadowed", Body=csv(x[i:i + 1]), ContentType="text/csv",
                                         InferenceId=f"inf-{i}")
        assert answer["InvokedProductionVariant"] == "live"
        assert _values(answer["Body"].read())[0] == pytest.approx(predict(model_a, x[i:i + 1])[0], rel=1e-6)

    captured = _wait_lines(serving, f"{destination}/shadowed/", 2 * len(x))
    by_variant: dict[str, list[dict[str, Any]]] = {"live": [], "shadow": []}
    for key, records in captured.items():
        parts = key.split("/")
        assert parts[:3] == [BUCKET, "capture", "shadowed"] and len(parts) == 9 and key.endswith(".jsonl"), key
        year, month, day, hour = parts[4:8]
        assert (len(year), len(month), len(day), len(hour)) == (4, 2, 2, 2)
        by_variant[parts[3]].extend(records)
    assert len(by_variant["live"]) == len(by_variant["shadow"]) == len(x)
    for variant, model in (("live", model_a), ("shadow", model_b)):
        for record in by_variant[variant]:
            assert record["eventVersion"] == "0"
            data, meta = record["captureData"], record["eventMetadata"]
            assert data["endpointInput"]["mode"] == "INPUT" and data["endpointInput"]["encoding"] == "CSV"
            assert data["endpointInput"]["observedContentType"] == "text/csv"
            assert data["endpointOutput"]["mode"] == "OUTPUT"
            row = np.array([[float(v) for v in data["endpointInput"]["data"].split(",")]])
            assert float(data["endpointOutput"]["data"]) == pytest.approx(predict(model, row)[0], rel=1e-6)
            assert meta["inferenceId"].startswith("inf-") and meta["eventId"] and meta["inferenceTime"].endswith("Z")


def test_variant_metrics_reach_cloudwatch_and_prometheus(serving: Client) -> None:
    add_model(serving, "model-a", booster())
    described = deploy(serving, "measured", [{"VariantName": "A", "ModelName": "model-a"}])
    url = front_url(described)
    runtime = runtime_client(url)
    for _ in range(12):
        runtime.invoke_endpoint(EndpointName="measured", Body=b"0.1,0.2,0.3", ContentType="text/csv")
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017 - a 400 from the model: counted as a 4XX error
            runtime.invoke_endpoint(EndpointName="measured", Body=b"0.1,0.2", ContentType="text/csv")
    text = httpx.get(f"{url}/metrics").text
    assert 'sagemaker_invocations_total{endpoint_name="measured",variant_name="A"} 15.0' in text
    assert 'sagemaker_invocation_4xx_errors_total{endpoint_name="measured",variant_name="A"} 3.0' in text

    dimensions = [{"Name": "EndpointName", "Value": "measured"}, {"Name": "VariantName", "Value": "A"}]
    deadline = time.monotonic() + 30
    total = 0.0
    while time.monotonic() < deadline and total < 15:
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        stats = serving.monitoring.get_metric_statistics(
            namespace="/aws/sagemaker/Endpoints", metric_name="Invocations", dimensions=dimensions,
            start_time=now - timedelta(hours=1), end_time=now + timedelta(hours=1), period=3600, statistics=["Sum"])
        total = sum(p.sum or 0 for p in stats.datapoints)
        time.sleep(0.3)
    assert total == 15
    latency = serving.monitoring.get_metric_statistics(
        namespace="/aws/sagemaker/Endpoints", metric_name="ModelLatency", dimensions=dimensions,
        start_time=now - timedelta(hours=1), end_time=now + timedelta(hours=1), period=3600, statistics=["Average"])
    assert latency.datapoints and latency.datapoints[0].average and latency.datapoints[0].average > 0
    assert latency.datapoints[0].unit == "Microseconds"


def test_registry_refuses_deleting_a_served_model_and_deploying_a_rejected_version(serving: Client) -> None:
    uri = add_model(serving, "model-a", booster())
    serving.registry.create_model_package_group(model_package_group_name="churn")
    serving.registry.create_model_package(model_package_group_name="churn", inference_specification={
        "Containers": [{"Image": "xgboost", "ModelDataUrl": uri}], "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"]})
    serving.registry.create_model(model_name="version-one", primary_container={"ModelPackageName": "churn/1"})
    serving.registry.update_model_package(model_package_arn="churn/1", model_approval_status="Rejected")
    with pytest.raises(InvalidArgument, match="Rejected"):
        serving.serving.create_endpoint_config(endpoint_config_name="rejected", production_variants=[
            {"VariantName": "A", "ModelName": "version-one"}])
    with pytest.raises(NotFound, match="no-such-model"):
        serving.serving.create_endpoint_config(endpoint_config_name="missing", production_variants=[
            {"VariantName": "A", "ModelName": "no-such-model"}])
    with pytest.raises(InvalidArgument, match="exactly one production variant"):
        serving.serving.create_endpoint_config(endpoint_config_name="two", production_variants=[
            {"VariantName": "A", "ModelName": "model-a"}, {"VariantName": "B", "ModelName": "model-a"}],
            shadow_production_variants=[{"VariantName": "S", "ModelName": "model-a"}])
    with pytest.raises(InvalidArgument, match="unique"):
        serving.serving.create_endpoint_config(endpoint_config_name="twice", production_variants=[
            {"VariantName": "A", "ModelName": "model-a"}, {"VariantName": "A", "ModelName": "model-a"}])

    deploy(serving, "served", [{"VariantName": "A", "ModelName": "model-a"}])
    with pytest.raises(Conflict, match="'served'"):
        serving.registry.delete_model(model_name="model-a")
    serving.serving.delete_endpoint(endpoint_name="served")
    serving.registry.delete_model(model_name="model-a")
    with pytest.raises(NotFound):
        serving.serving.describe_endpoint(endpoint_name="served")
