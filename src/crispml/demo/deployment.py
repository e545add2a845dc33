"""The demo's deployment phase (CRISP-DM: deployment): two registered versions behind one endpoint (SageMaker
hosting), A/B traffic, a shadow variant with data capture.

Both models of the training phase become versions of the group ``penguins`` (the evaluation phase
registered and approved the better one; the other is registered here, pending approval) and models made
from those versions (``CreateModel`` with ``ModelPackageName``). An endpoint configuration puts them
behind one endpoint at 80/20 (``InitialVariantWeight`` 4 and 1); ``CreateEndpoint`` starts the serving
runtime on 127.0.0.1 if it does not run. Then 1,000 single-row requests, four at a time, of the held-out penguins go to
the endpoint through boto3's ``sagemaker-runtime`` client, unchanged, pointed at the runtime's URL, and the
observed split and each variant's latency are printed. ``UpdateEndpoint`` then deploys a configuration
with the approved model alone in production and the other as a shadow that receives a copy of every
request, with data capture of input and output at 100 %: 200 more requests, and the capture files the
runtime delivered to the lake (SageMaker's JSON lines, ``<endpoint>/<variant>/yyyy/mm/dd/hh/``) are
listed once the endpoint is deleted and the runtime stopped (it delivers what it spooled as it stops).
Last, a batch transform job (``CreateTransformJob``) scores the held-out table with the champion, each row
without its label sent to the model and joined with its answer, and the accuracy is read back.

Names carry the run's time, so the demo runs again on the same home.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crispml.demo.evaluation import GROUP
from crispml.demo.modelling import COLUMNS, MODELS_BUCKET, TEST_TABLE
from crispml.demo.phases import DATABASE, DemoState, _sql
from crispml.demo.report import Section
from crispml.render import table_of

REQUESTS = 1_000
SHADOW_REQUESTS = 200
CAPTURE = f"lake://{MODELS_BUCKET}/capture/"


def _wait(client: Any, endpoint: str) -> Any:
    deadline = time.monotonic() + 120
    while True:
        described = client.serving.describe_endpoint(endpoint_name=endpoint)
        if described.endpoint_status in ("InService", "Failed") or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def _versions(state: DemoState) -> dict[str, str]:
    """The approved version (evaluation phase) and the other model's version, registered now."""
    client = state.client
    chosen = state.facts["evaluation"]["registered"]
    training = state.facts["training"]
    other_job = training["script_job"] if chosen["training_job"] == training["cv_job"] else training["cv_job"]
    other = client.registry.create_model_package(
        model_package_group_name=GROUP, source_training_job_name=other_job,
        model_package_description=f"{other_job}, the challenger (crispml demo deployment phase)")
    group, version = other.model_package_arn.rsplit("/", 2)[-2:]
    return {"champion": chosen["version"], "challenger": f"{group}/{version}"}


def _shadow_calls(url: str, endpoint: str, *metrics: str) -> float:
    """How many requests the endpoint's challenger has answered so far (or, given ``metrics``, the sum of
    those counters: its errors, say), as the runtime's Prometheus metrics (``GET /metrics``) count them."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    wanted = set(metrics or ("sagemaker_invocations_total",))

    with urlopen(f"{url}/metrics", timeout=10) as response:  # the runtime, on 127.0.0.1
        text = response.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name in wanted and sample.labels.get("endpoint_name") == endpoint
               and sample.labels.get("variant_name") == "challenger")


def deployment_endpoints(state: DemoState) -> Section:
    """Deployment (SageMaker hosting): two versions at 80/20 behind one endpoint, then a shadow with capture."""
    client, out = state.client, state.console
    if "evaluation" not in state.facts:
        out.print("  [red]no registered model to deploy[/red]")
        return Section(title="7 · Deployment", text="No model was registered.")
    import boto3

    stamp = time.strftime("%Y%m%d%H%M%S")
    versions = _versions(state)
    models = {}
    for role, version in versions.items():
        models[role] = f"penguins-{role}-{stamp}"
        client.registry.create_model(model_name=models[role], primary_container={"ModelPackageName": version})
    endpoint = f"penguins-{stamp}"
    ab_config, shadow_config = f"{endpoint}-ab", f"{endpoint}-shadow"
    client.serving.create_endpoint_config(endpoint_config_name=ab_config, production_variants=[
        {"VariantName": "champion", "ModelName": models["champion"], "InitialVariantWeight": 4},
        {"VariantName": "challenger", "ModelName": models["challenger"], "InitialVariantWeight": 1}])
    client.serving.create_endpoint(endpoint_name=endpoint, endpoint_config_name=ab_config)
    described = _wait(client, endpoint)
    if described.endpoint_status != "InService":
        out.print(f"  [red]endpoint {endpoint} is {described.endpoint_status}: {described.failure_reason}[/red]")
        client.serving.stop_runtime()
        return Section(title="7 · Deployment", text=f"The endpoint failed: {described.failure_reason}")
    url = str(described.runtime_url).rsplit("/endpoints/", 1)[0]
    out.print(f"  endpoint [bold]{endpoint}[/bold] InService at {described.runtime_url}/invocations: "
              f"{versions['champion']} (weight 4) and {versions['challenger']} (weight 1)")

    test_rows = _sql(state, f"SELECT * FROM {DATABASE}.{TEST_TABLE}").records()
    bodies = [",".join(str(float(v)) for k, v in row.items() if k != "label").encode() for row in test_rows]
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="crispml", aws_secret_access_key="crispml")
    latencies: dict[str, list[float]] = {"champion": [], "challenger": []}

    def send(i: int) -> tuple[str, float]:
        started = time.perf_counter()
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=bodies[i % len(bodies)],
                                         ContentType="text/csv", Accept="application/json")
        answer["Body"].read()
        return str(answer["InvokedProductionVariant"]), (time.perf_counter() - started) * 1000

    with Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=True) as progress, ThreadPoolExecutor(max_workers=4) as pool:
        task = progress.add_task(f"{REQUESTS:,} requests through boto3, 4 at a time", total=REQUESTS)
        for variant, elapsed in pool.map(send, range(REQUESTS)):
            latencies[variant].append(elapsed)
            progress.advance(task)
    split_rows = [{"variant": name, "version": versions[name], "weight": 4 if name == "champion" else 1,
                   "requests": len(times), "share": f"{len(times) / REQUESTS:.1%}",
                   "p50 ms": round(statistics.median(times), 2) if times else None,
                   "p99 ms": round(sorted(times)[int(len(times) * 0.99) - 1], 2) if times else None}
                  for name, times in latencies.items()]
    out.print(table_of(split_rows, title=f"{REQUESTS:,} requests at 80/20 (boto3 sagemaker-runtime, round trip)"))

    client.serving.create_endpoint_config(
        endpoint_config_name=shadow_config,
        production_variants=[{"VariantName": "champion", "ModelName": models["champion"]}],
        shadow_production_variants=[{"VariantName": "challenger", "ModelName": models["challenger"],
                                     "InitialVariantWeight": 1}],
        data_capture_config={"InitialSamplingPercentage": 100, "DestinationS3Uri": CAPTURE,
                             "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    client.serving.update_endpoint(endpoint_name=endpoint, endpoint_config_name=shadow_config)
    described = _wait(client, endpoint)
    answered = {"champion": 0, "challenger": 0}
    copied = _shadow_calls(url, endpoint)
    for i in range(SHADOW_REQUESTS):
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=bodies[i % len(bodies)], ContentType="text/csv")
        answer["Body"].read()
        answered[answer["InvokedProductionVariant"]] += 1
    # the shadow's copies go out after the answers, without holding them up: the last ones are still on their
    # way now, and a deleted endpoint's instances stop; so wait until the shadow has answered them all
    deadline = time.monotonic() + 30
    while _shadow_calls(url, endpoint) < copied + SHADOW_REQUESTS and time.monotonic() < deadline:
        time.sleep(0.05)
    failed = _shadow_calls(url, endpoint, "sagemaker_invocation_4xx_errors_total",
                           "sagemaker_invocation_5xx_errors_total")
    client.serving.delete_endpoint(endpoint_name=endpoint)
    client.serving.stop_runtime()  # it delivers what it captured before it exits
    prefix = f"{CAPTURE}{endpoint}/"
    captured = {key: len(client.fs.cat_file(key).splitlines()) for key in client.fs.find(prefix)}
    capture_rows = [{"object": f"lake://{key}", "records": n} for key, n in sorted(captured.items())]
    out.print(f"  updated to {shadow_config} with no downtime: the champion answered {answered['champion']} of "
              f"{SHADOW_REQUESTS} requests, the shadow challenger {answered['challenger']}, and received a copy of "
              "each")
    out.print(table_of(capture_rows, title="data capture delivered to the lake (SageMaker's JSON lines)"))

    batch = _batch_transform(state, models["champion"], f"{endpoint}-batch")

    state.facts["deployment"] = {
        "endpoint": endpoint, "versions": versions, "split": {name: len(times) for name, times in latencies.items()},
        "shadow_answered": answered, "captured_records": sum(captured.values()), "capture_objects": len(captured),
        "captured_by_variant": {role: sum(n for key, n in captured.items() if f"/{endpoint}/{role}/" in key)
                                for role in ("champion", "challenger")},
        "shadow_errors": int(failed),
        "batch_transform": batch}
    return Section(
        title="7 · Deployment: endpoints, A/B and shadow traffic, data capture (SageMaker hosting)",
        text=f"The approved version {versions['champion']} and the challenger {versions['challenger']} served "
             f"endpoint {endpoint} at 80/20: {REQUESTS:,} requests through boto3's sagemaker-runtime client split "
             f"{split_rows[0]['share']} / {split_rows[1]['share']}. An update with no downtime then put the "
             f"challenger in shadow with data capture: it received a copy of every request and its answers were "
             f"captured, never returned; {sum(captured.values())} capture records reached the lake. A batch "
             f"transform job then scored the whole held-out table with the champion: {batch['rows']} rows, each "
             f"joined with its prediction, accuracy {batch['accuracy']:.4f}.",
        tables=[("A/B split and latency", split_rows), ("Captured data", capture_rows),
                ("Batch transform", [batch])],
        bars=[("Requests per variant (80/20)", {name: len(times) for name, times in latencies.items()})],
    )


def _batch_transform(state: DemoState, model: str, name: str) -> dict[str, Any]:
    """The held-out table scored by a batch transform job: each row without its label (``InputFilter``) sent to
    the model, its answer joined to the row (``JoinSource``); the accuracy read back from the output."""
    client, out = state.client, state.console
    output = f"lake://{MODELS_BUCKET}/transform/{name}/"
    client.serving.create_transform_job(
        transform_job_name=name, model_name=model,
        transform_input={"DataSource": {"CatalogDataSource": {"DatabaseName": DATABASE, "TableName": TEST_TABLE}},
                         "ContentType": "text/csv", "SplitType": "Line"},
        transform_output={"S3OutputPath": output, "Accept": "text/csv", "AssembleWith": "Line"},
        transform_resources={"InstanceCount": 1}, batch_strategy="MultiRecord",
        data_processing={"InputFilter": "$[1:]", "JoinSource": "Input"})
    deadline, delay = time.monotonic() + 120, 0.05
    while (job := client.serving.describe_transform_job(transform_job_name=name)).transform_job_status in (
            "InProgress", "Stopping") and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    if job.transform_job_status != "Completed":
        out.print(f"  [red]batch transform {name} ended {job.transform_job_status}: {job.failure_reason}[/red]")
        return {"job": name, "status": job.transform_job_status, "rows": 0, "accuracy": 0.0}
    right = rows = 0
    for key in client.fs.find(output):
        for line in client.fs.cat_file(key).decode().splitlines():
            values = [float(v) for v in line.split(",")]
            label, answer = values[0], values[len(COLUMNS):]  # the row (label first), then the model's answer
            predicted = max(range(len(answer)), key=answer.__getitem__) if len(answer) > 1 else answer[0]
            rows += 1
            right += int(predicted == label)
    accuracy = right / rows if rows else 0.0
    out.print(f"  batch transform [bold]{name}[/bold] {job.transform_job_status}: {rows} held-out rows of "
              f"{DATABASE}.{TEST_TABLE} through {model}, each joined with its prediction under {output} — "
              f"accuracy {accuracy:.4f}")
    return {"job": name, "status": job.transform_job_status, "rows": rows, "accuracy": round(accuracy, 4),
            "output": output}
