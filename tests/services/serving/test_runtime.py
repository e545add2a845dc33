"""The runtime's processes, killed and replaced: updates with no failed request, a crashed instance replaced
(its request retried on another), the runtime itself killed and started again, and capture records of
answered requests surviving a kill."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from crispml.core.owners import pid_alive
from crispml.sdk.client import Client
from tests.services.serving.support import (
    BUCKET,
    add_model,
    booster,
    csv,
    deploy,
    front_url,
    predict,
    rows,
    wait_status,
)

pytestmark = pytest.mark.kill


class Load:
    """Requests sent one after another from a thread until stopped, about 100 a second (leaving the two cores to
    the runtime and its instances); every answer's status and body kept."""

    def __init__(self, url: str, endpoint: str, body: bytes) -> None:
        self.url, self.endpoint, self.body = url, endpoint, body
        self.answers: list[tuple[int, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as http:
            while not self._stop.is_set():
                try:
                    answer = http.post(f"{self.url}/endpoints/{self.endpoint}/invocations", content=self.body,
                                       headers={"Content-Type": "text/csv", "Accept": "text/csv"})
                    self.answers.append((answer.status_code, answer.content))
                except httpx.HTTPError as exc:
                    self.answers.append((-1, str(exc).encode()))
                self._stop.wait(0.01)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def failed(self) -> list[tuple[int, bytes]]:
        return [a for a in self.answers if a[0] != 200]


def _pids(described: Any) -> list[int]:
    return [i.pid for v in described.production_variants for i in v.instances if i.pid]


def test_an_update_under_load_fails_no_request_and_switches_to_the_new_model(serving: Client) -> None:
    model_a, model_b = booster(seed=0), booster(seed=1, rounds=3)
    add_model(serving, "model-a", model_a)
    add_model(serving, "model-b", model_b)
    described = deploy(serving, "rolling", [{"VariantName": "main", "ModelName": "model-a"}])
    old = _pids(described)
    serving.serving.create_endpoint_config(endpoint_config_name="rolling-b", production_variants=[
        {"VariantName": "main", "ModelName": "model-b", "InitialInstanceCount": 2}])
    x, _ = rows(11, 1)
    with Load(front_url(described), "rolling", csv(x)) as load:
        while len(load.answers) < 20:
            time.sleep(0.05)
        serving.serving.update_endpoint(endpoint_name="rolling", endpoint_config_name="rolling-b")
        assert serving.serving.describe_endpoint(endpoint_name="rolling").endpoint_status == "Updating"
        done = wait_status(serving, "rolling", ("InService",))
        settled = len(load.answers)
        while len(load.answers) < settled + 20:
            time.sleep(0.05)
    assert [(i, status) for i, (status, _) in enumerate(load.answers) if status != 200] == [], len(load.answers)
    assert done.endpoint_config_name == "rolling-b"
    assert [(v.model_name, v.current_instance_count) for v in done.production_variants] == [("model-b", 2)]
    answers = [float(body) for _, body in load.answers]
    a, b = float(predict(model_a, x)[0]), float(predict(model_b, x)[0])
    assert a != pytest.approx(b)
    assert answers[0] == pytest.approx(a, rel=1e-6) and answers[-1] == pytest.approx(b, rel=1e-6)
    switched = next(i for i, v in enumerate(answers) if v == pytest.approx(b, rel=1e-6))
    assert all(v == pytest.approx(b, rel=1e-6) for v in answers[switched:]), "the old model answered after the new"
    deadline = time.monotonic() + 30
    while any(pid_alive(p) for p in old) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in old), "the old configuration's instance still runs"

    serving.serving.update_endpoint_weights_and_capacities(endpoint_name="rolling", desired_weights_and_capacities=[
        {"VariantName": "main", "DesiredInstanceCount": 1}])
    done = wait_status(serving, "rolling", ("InService",))
    assert [v.current_instance_count for v in done.production_variants] == [1]


def test_a_killed_instance_is_replaced_and_its_requests_retried_on_another(serving: Client) -> None:
    model = booster()
    add_model(serving, "model-a", model)
    described = deploy(serving, "sturdy", [{"VariantName": "main", "ModelName": "model-a",
                                            "InitialInstanceCount": 2}])
    victim, survivor = _pids(described)
    x, _ = rows(4, 1)
    with Load(front_url(described), "sturdy", csv(x)) as load:
        while len(load.answers) < 30:
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = serving.serving.describe_endpoint(endpoint_name="sturdy")
            instances = now.production_variants[0].instances
            if len(instances) == 2 and all(i.status == "InService" for i in instances) and victim not in _pids(now):
                break
            assert now.endpoint_status == "InService"  # one healthy instance still serves
            time.sleep(0.1)
        count = len(load.answers)
        while len(load.answers) < count + 30:
            time.sleep(0.02)
    assert load.failed() == []
    assert survivor in _pids(now) and victim not in _pids(now)
    assert sorted(i.restarts for i in now.production_variants[0].instances) == [0, 1]
    expected = float(predict(model, x)[0])
    assert all(float(body) == pytest.approx(expected, rel=1e-6) for _, body in load.answers)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_instances_are_forked_by_the_runtimes_fork_server_and_replaced_when_it_is_killed(
        serving: Client) -> None:
    model = booster()
    add_model(serving, "model-a", model)
    described = deploy(serving, "forked", [{"VariantName": "main", "ModelName": "model-a",
                                            "InitialInstanceCount": 2}])
    runtime = serving.serving.describe_runtime()
    first = _pids(described)
    (zygote,) = {_parent(pid) for pid in first}  # both forked by one process: the runtime's fork server
    assert zygote != runtime.pid and _parent(zygote) == runtime.pid
    assert b"--zygote" in Path(f"/proc/{zygote}/cmdline").read_bytes()
    os.kill(zygote, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = serving.serving.describe_endpoint(endpoint_name="forked")
        instances = now.production_variants[0].instances
        if len(instances) == 2 and all(i.status == "InService" for i in instances) and \
                not set(first) & set(_pids(now)):
            break
        time.sleep(0.1)
    assert not set(first) & set(_pids(now)), "the instances of the killed fork server were not replaced"
    assert not any(pid_alive(p) for p in first), "an instance outlived the fork server that forked it"
    (again,) = {_parent(pid) for pid in _pids(now)}
    assert again != zygote and _parent(again) == runtime.pid  # a new fork server, started by the same runtime
    x, _ = rows(5, 3)
    answer = serving.serving.invoke_endpoint(endpoint_name="forked", body=csv(x), content_type="text/csv",
                                             accept="text/csv")
    np.testing.assert_allclose([float(v) for v in answer.body.read().split()], predict(model, x), rtol=1e-6)


def test_a_killed_runtime_leaves_no_instance_and_a_new_one_serves_the_endpoints_again(serving: Client) -> None:
    model = booster()
    add_model(serving, "model-a", model)
    described = deploy(serving, "phoenix", [{"VariantName": "main", "ModelName": "model-a"}])
    runtime = serving.serving.describe_runtime()
    assert runtime.status == "Running" and runtime.pid and runtime.url == front_url(described)
    instances = _pids(described)
    os.kill(runtime.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(pid_alive(p) for p in instances) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in instances), "instances outlived their runtime"
    assert serving.serving.describe_runtime().status == "Stopped"

    started = serving.serving.start_runtime()
    assert started.status == "Running" and started.pid != runtime.pid
    assert started.url == runtime.url  # the same port again: clients keep their URL
    again = wait_status(serving, "phoenix", ("InService",))
    deadline = time.monotonic() + 30
    while not all(i.status == "InService" for i in again.production_variants[0].instances) or \
            not again.production_variants[0].instances:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        again = serving.serving.describe_endpoint(endpoint_name="phoenix")
    x, _ = rows(9, 4)
    answer = serving.serving.invoke_endpoint(endpoint_name="phoenix", body=csv(x), content_type="text/csv",
                                             accept="text/csv")
    np.testing.assert_allclose([float(v) for v in answer.body.read().split()], predict(model, x), rtol=1e-6)


def test_every_answered_request_is_captured_even_when_the_runtime_is_killed(serving: Client) -> None:
    add_model(serving, "model-a", booster())
    destination = f"lake://{BUCKET}/captured"
    described = deploy(serving, "recorded", [{"VariantName": "main", "ModelName": "model-a"}],
                       data_capture_config={"InitialSamplingPercentage": 100, "DestinationS3Uri": destination,
                                            "CaptureOptions": [{"CaptureMode": "Input"}]})
    url = front_url(described)
    x, _ = rows(5, 1)
    answered: list[str] = []
    with httpx.Client() as http:
        for i in range(150):
            reply = http.post(f"{url}/endpoints/recorded/invocations", content=csv(x),
                              headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": f"n{i}"})
            if reply.status_code == 200:
                answered.append(f"n{i}")
            if i == 120:
                pid = serving.serving.describe_runtime().pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)  # mid-stream, unflushed
                break
    assert len(answered) == 121
    deadline = time.monotonic() + 20
    while pid_alive(pid) and time.monotonic() < deadline:  # the kernel ends it a moment after the signal
        time.sleep(0.05)
    serving.serving.start_runtime()  # delivers what the killed runtime spooled
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [json.loads(line)["eventMetadata"]["inferenceId"] for key in serving.fs.find(f"{destination}/")
                for line in serving.fs.cat_file(key).decode().splitlines()]
        if len(seen) >= len(answered):
            break
        time.sleep(0.2)
    assert sorted(seen) == sorted(answered)
