"""Reaching the serving runtime from any process: is it running, where, start it, stop it, send it a request.

The runtime is one process per home (``python -m crispml.servingd``): the
front that answers every endpoint and the supervisor that owns the
instances. It records itself in the ``serving_runtime`` row (owner, URL);
a process that needs it and finds no live owner starts one and waits until it
answers ``GET /ping``. Two processes may start one at once: the runtime holds
a lock on ``<home>/serving/runtime.lock``, so the second exits and both wait
for the first.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from crispml.core.config import settings_environment
from crispml.core.owners import owner_alive
from crispml.services.serving.errors import ModelError, ResourceNotFound, RuntimeUnavailable, ValidationException
from crispml.services.serving.runtime.front import AUDITED_HEADER
from crispml.services.serving.specs import DescribeRuntimeResponse, InvokeEndpointRequest, InvokeEndpointResponse
from crispml.services.serving.store import EndpointRow, InstanceRow, RuntimeRow

if TYPE_CHECKING:
    from crispml.spine.operations import Runtime

RUNTIME_MODULE = "crispml.servingd"
#: How long a start may take before the caller gives up (the runtime imports uvicorn and opens the home).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


def live_row(runtime: Runtime) -> RuntimeRow | None:
    """The runtime's row when its process runs."""
    with runtime.db.read() as session:
        row = session.get(RuntimeRow, "runtime")
        if row is not None:
            session.expunge(row)
    return row if row is not None and owner_alive(row.owner) else None


def runtime_url(runtime: Runtime) -> str | None:
    row = live_row(runtime)
    return row.url if row is not None else None


def _pid(owner: str) -> int:
    return int(owner.split(":")[1])


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/ping", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def needed(runtime: Runtime) -> None:
    """An endpoint changed: a running runtime reconciles now; one that does not run is started, unless the
    home's ``serving_autostart`` setting is off."""
    if runtime.settings.serving_autostart:
        ensure_running(runtime)
    else:
        poke(runtime)


def ensure_running(runtime: Runtime) -> str:
    """The runtime's URL, after starting it if it does not run; a running one is told to reconcile now."""
    row = live_row(runtime)
    if row is not None:
        poke(runtime, row.url)
        return row.url
    settings = runtime.settings
    log = settings.home / "serving" / "runtime.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as errors:
        process = subprocess.Popen([sys.executable, "-m", RUNTIME_MODULE], env=settings_environment(settings),
                                   stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, start_new_session=True,
                                   close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        row = live_row(runtime)
        if row is not None and _answers(row.url):
            return row.url
        if process.poll() is not None and row is None:  # it ended (or another runtime won the lock and ended)
            row = live_row(runtime)
            if row is None:
                time.sleep(0.2)  # the winner may be registering
                if live_row(runtime) is None:
                    break
        time.sleep(0.05)
    raise RuntimeUnavailable(f"the serving runtime did not start within {START_TIMEOUT:.0f} s; see {log}")


def poke(runtime: Runtime, url: str | None = None) -> None:
    """Ask a running runtime to reconcile now rather than at its next pass (nothing when it does not run)."""
    import httpx

    url = url or runtime_url(runtime)
    if url is None:
        return
    try:
        httpx.post(f"{url}/crispml/reconcile", timeout=2.0)
    except httpx.HTTPError:
        return  # it reconciles on its own within a second


def stop(runtime: Runtime) -> None:
    """Stop the runtime (SIGTERM: it drains, stops its instances and removes its row) and wait for it."""
    row = live_row(runtime)
    if row is None:
        return
    try:
        os.kill(_pid(row.owner), signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and owner_alive(row.owner):
        time.sleep(0.05)
    if owner_alive(row.owner):
        raise RuntimeUnavailable(f"the serving runtime (pid {_pid(row.owner)}) did not stop within "
                                 f"{STOP_TIMEOUT:.0f} s")


def describe(runtime: Runtime) -> DescribeRuntimeResponse:
    row = live_row(runtime)
    with runtime.db.read() as session:
        endpoints = session.scalar(select(func.count()).select_from(EndpointRow)) or 0
        instances = session.scalar(select(func.count()).select_from(InstanceRow)) or 0 if row else 0
    if row is None:
        return DescribeRuntimeResponse(status="Stopped", endpoints=endpoints)
    return DescribeRuntimeResponse(status="Running", url=row.url, pid=_pid(row.owner), started_at=row.started_at,
                                   endpoints=endpoints, instances=instances)


def invoke(runtime: Runtime, request: InvokeEndpointRequest) -> InvokeEndpointResponse:
    """Send ``request`` to the runtime front as SageMaker Runtime's InvokeEndpoint, and map its errors back."""
    import httpx

    url = ensure_running(runtime) if runtime.settings.serving_autostart else runtime_url(runtime)
    if url is None:
        raise RuntimeUnavailable("the serving runtime is not running (serving_autostart is off): start it with "
                                 "'crispml serving start-runtime'")
    headers = {"Content-Type": request.content_type, "Accept": request.accept, AUDITED_HEADER.decode(): "1"}
    if request.custom_attributes is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request.custom_attributes
    if request.target_variant is not None:
        headers["X-Amzn-SageMaker-Target-Variant"] = request.target_variant
    if request.inference_id is not None:
        headers["X-Amzn-SageMaker-Inference-Id"] = request.inference_id
    try:
        answer = httpx.post(f"{url}/endpoints/{request.endpoint_name}/invocations", content=request.body,
                            headers=headers, timeout=120.0)
    except httpx.HTTPError as exc:
        raise RuntimeUnavailable(f"the serving runtime at {url} did not answer: {exc}") from exc
    if answer.status_code == 200:
        return InvokeEndpointResponse(
            body=io.BytesIO(answer.content), content_type=answer.headers.get("content-type", ""),
            invoked_production_variant=answer.headers.get("x-amzn-invoked-production-variant", ""),
            custom_attributes=answer.headers.get("x-amzn-sagemaker-custom-attributes"))
    try:
        message = str(answer.json().get("message") or answer.json().get("Message") or answer.text)
    except ValueError:
        message = answer.text
    kind = answer.headers.get("x-amzn-errortype", "")
    if kind.startswith("ModelError"):
        raise ModelError(message)
    if answer.status_code == 404 or kind.startswith("ResourceNotFound"):
        raise ResourceNotFound(message)
    if 400 <= answer.status_code < 500:
        raise ValidationException(message)
    raise RuntimeUnavailable(f"the serving runtime answered {answer.status_code}: {message}")
