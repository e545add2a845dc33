"""An instance that drops its connections but keeps running, behind a real runtime: a script model shuts down
its own process's TCP connections (what the front sees of a crash) and the runtime's answers are checked —
the request sent once more to the variant's only instance, the instance kept while it answers a ping within
three tries, and the runtime's log naming what happened."""

from __future__ import annotations

import json
import time

import httpx

from crispml.sdk.client import Client
from tests.services.serving.support import BUCKET, deploy, front_url, tar_gz

#: Bodies: ``once`` drops the connection of its first call only; ``stall`` drops the connections of its first
#: two calls (the front's request and its one retry: a request is sent at most twice) and stalls the instance's
#: loop for 3.5 s on the second, so that the supervisor's first ping, made at once, fails and its next one, a
#: pass later, is answered.
SCRIPT = b'''
import os
import socket
import time

calls = {}


def _drop_connections():
    """Shut down this process's connected TCP sockets: the front's connections to it."""
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=int(name))
        except (OSError, ValueError):
            continue
        try:
            if sock.family == socket.AF_INET:
                sock.getpeername()
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.detach()


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    return body.decode().strip()


def predict_fn(data, model):
    calls[data] = calls.get(data, 0) + 1
    if data == "once" and calls[data] == 1:
        _drop_connections()
    if data == "stall" and calls[data] <= 2:
        _drop_connections()
        if calls[data] == 2:
            time.sleep(3.5)
    return f"{data} {calls[data]} {os.getpid()}"


def output_fn(prediction, accept):
    return prediction, "text/plain"
'''


def _deploy(client: Client) -> str:
    client.lake.create_bucket(bucket=BUCKET)
    client.fs.pipe_file(f"lake://{BUCKET}/drops/model.tar.gz", tar_gz({"empty.json": b"{}"}))
    client.fs.pipe_file(f"lake://{BUCKET}/drops/sourcedir.tar.gz", tar_gz({"serve.py": SCRIPT}))
    client.registry.create_model(model_name="dropper", primary_container={
        "Image": "sklearn", "ModelDataUrl": f"lake://{BUCKET}/drops/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "serve.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"lake://{BUCKET}/drops/sourcedir.tar.gz"}})
    return front_url(deploy(client, "drops", [{"VariantName": "main", "ModelName": "dropper"}]))


def _instances(client: Client) -> list[tuple[int | None, int]]:
    described = client.serving.describe_endpoint(endpoint_name="drops")
    return [(i.pid, i.restarts) for v in described.production_variants for i in v.instances]


def test_an_only_instance_that_drops_connections_is_asked_again_and_kept_while_it_answers_a_ping(
        serving: Client) -> None:
    url = _deploy(serving)
    before = _instances(serving)
    assert len(before) == 1
    log = serving.platform.settings.home / "serving" / "runtime.log"
    with httpx.Client(timeout=60) as http:
        def invoke(body: bytes) -> httpx.Response:
            return http.post(f"{url}/endpoints/drops/invocations", content=body,
                             headers={"Content-Type": "text/csv"})

        # one dropped connection: the front asks the same instance again and the caller never sees it
        first = invoke(b"once")
        assert first.status_code == 200, first.text
        assert first.text.startswith("once 2 ")
        assert "dropped a request" not in log.read_text()

        # two in a row: the instance is reported and out of the routes (503), and the supervisor pings it: its
        # first ping finds it stalled, its next one answered, so it is kept, not replaced
        second = invoke(b"stall")
        assert second.status_code == 503, second.text
        assert json.loads(second.text)["__type"] == "ServiceUnavailable"
        deadline = time.monotonic() + 30
        while True:
            third = invoke(b"after")
            if third.status_code == 200:
                break
            assert third.status_code == 503 and time.monotonic() < deadline, third.text
            time.sleep(0.1)
    pid = before[0][0]
    assert third.text == f"after 1 {pid}"  # the same process answers
    assert _instances(serving) == before  # no restart
    said = log.read_text()
    assert "dropped a request (the instance at 127.0.0.1:" in said
    assert "did not answer /ping (1 of 3)" in said
    assert "starting another" not in said
