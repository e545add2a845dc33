"""The runtime front: SageMaker Runtime's ``InvokeEndpoint`` for every endpoint of the home.

``POST /endpoints/{EndpointName}/invocations`` as boto3's ``sagemaker-runtime``
client sends it (``Content-Type``, ``Accept``, ``X-Amzn-SageMaker-Target-Variant``,
``X-Amzn-SageMaker-Custom-Attributes``, ``X-Amzn-SageMaker-Inference-Id``),
answered with the model's body and ``x-Amzn-Invoked-Production-Variant``.
For each request it:

1. picks a production variant at random by weight, or the one the
   target-variant header names;
2. sends the body to the variant's least busy healthy instance; if the
   instance drops the connection (it crashed), marks it broken, wakes the
   supervisor with the error and sends the request once more to another
   healthy instance of the same variant — or, when it is the variant's only
   one, to the same instance first (the connection that failed is not used
   again): one dropped connection is not a crash, and an only instance marked
   broken at once would leave the variant answering 503 until the
   supervisor has pinged it;
3. copies the request to the shadow variant, when there is one, for its
   sampling share, without waiting: the shadow's answer is measured and
   captured, never returned;
4. captures input and output for the sampling percentage (``capture.py``),
   written to the spool before the answer leaves, so an answered request is
   never lost;
5. counts invocations, errors and latencies per variant (``metrics.py``).

Errors keep SageMaker Runtime's shapes: a body the model cannot read is 400
``ValidationError`` with its message; a model that fails is 424 ``ModelError``
with ``OriginalStatusCode`` and ``OriginalMessage``; an unknown endpoint or
variant is 400 naming it; a body over 6 MB is 413; no healthy instance is
503. Nothing a client sends yields a 500.

The application is plain ASGI for the same reason as the instance's
(``instance.py``): it is on every request's path.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crispml.services.serving.runtime.instance import Receive, Scope, Send, answer, lifespan
from crispml.services.serving.runtime.upstream import Reply, Upstream, UpstreamError
from crispml.services.serving.specs import MAX_PAYLOAD_BYTES

ACCOUNT = "000000000000"
#: Set by the SDK's InvokeEndpoint, which the spine has already authorized and audited.
AUDITED_HEADER = b"x-crispml-audited"
_FORWARDED = (b"content-type", b"accept", b"x-amzn-sagemaker-custom-attributes", b"x-amzn-sagemaker-inference-id")


@dataclass(eq=False)
class Backend:
    """One instance, as the front sees it."""

    instance_id: str
    variant: str
    upstream: Upstream
    in_flight: int = 0
    broken: bool = False


@dataclass
class VariantRoute:
    name: str
    weight: float
    backends: list[Backend]

    def healthy(self, exclude: Backend | None = None) -> list[Backend]:
        return [b for b in self.backends if not b.broken and b is not exclude]


@dataclass
class Capture:
    """What an endpoint captures: the sampling share, input and/or output, and how to encode content types."""

    percentage: int
    inputs: bool
    outputs: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]


@dataclass
class Route:
    """Where one endpoint's requests go (rebuilt by the supervisor when anything changes)."""

    endpoint: str
    variants: list[VariantRoute]
    shadow: VariantRoute | None = None
    shadow_share: float = 0.0
    capture: Capture | None = None
    _cumulative: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = 0.0
        for variant in self.variants:
            total += variant.weight
            self._cumulative.append(total)

    def choose(self) -> VariantRoute:
        """A production variant at random by weight; variants with no healthy instance are passed over
        while another has one."""
        total = self._cumulative[-1] if self._cumulative else 0.0
        if total > 0:
            point = random.random() * total
            for variant, edge in zip(self.variants, self._cumulative, strict=True):
                if point < edge and variant.weight > 0:
                    if variant.healthy() or not any(v.healthy() for v in self.variants if v.weight > 0):
                        return variant
                    break
            candidates = [v for v in self.variants if v.weight > 0 and v.healthy()]
            if candidates:
                return random.choices(candidates, weights=[v.weight for v in candidates])[0]
        return max(self.variants, key=lambda v: v.weight)

    def variant(self, name: str) -> VariantRoute | None:
        return next((v for v in self.variants if v.name == name), None)


class Hooks:
    """What the front reports to the rest of the runtime (the supervisor's implementations)."""

    def broken(self, backend: Backend, error: str) -> None:
        """An instance dropped a request (``error`` says how): check it now."""

    def measured(self, endpoint: str, variant: str, status: int, model_us: float, overhead_us: float) -> None:
        """One invocation's outcome and latencies."""

    def captured(self, endpoint: str, variant: str, record: dict[str, Any]) -> None:
        """One capture record, to keep before the answer leaves."""

    def invoked(self, endpoint: str, inference_id: str, status: int, audited: bool) -> None:
        """One call of InvokeEndpoint reached the front (for the audit record)."""

    def wake(self) -> None:
        """Reconcile now."""

    def metrics_text(self) -> bytes:
        """The Prometheus exposition of the runtime's metrics."""
        return b""


def _error(kind: str, message: str, **extra: Any) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    return (json.dumps({"__type": kind, "message": message, "Message": message, **extra}).encode(),
            [(b"x-amzn-errortype", kind.encode())])


class Front:
    """The ASGI application of the runtime front."""

    def __init__(self, hooks: Hooks, routes: Callable[[], dict[str, Route]]) -> None:
        self.hooks = hooks
        self._routes = routes
        self._shadows: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # at shutdown, shadow copies still on their way are answered and captured
            await lifespan(receive, send, self.drain)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path.startswith("/endpoints/") and path.endswith("/invocations"):
            if method != "POST":
                await self._fail(send, 405, "ValidationError", "InvokeEndpoint is POST "
                                 "/endpoints/{EndpointName}/invocations")
                return
            await self.invoke(scope, receive, send, path[len("/endpoints/"):-len("/invocations")])
        elif path == "/ping":
            await answer(send, 200, b"", b"text/plain")
        elif path == "/metrics" and method == "GET":
            await answer(send, 200, self.hooks.metrics_text(), b"text/plain; version=0.0.4; charset=utf-8")
        elif path == "/crispml/reconcile" and method == "POST":
            self.hooks.wake()
            await answer(send, 202, b"", b"text/plain")
        else:
            await self._fail(send, 404, "UnknownOperationException",
                             f"no such path {path!r}: the runtime answers POST /endpoints/{{EndpointName}}/"
                             "invocations, GET /ping and GET /metrics")

    async def _fail(self, send: Send, status: int, kind: str, message: str, **extra: Any) -> None:
        body, headers = _error(kind, message, **extra)
        await answer(send, status, body, b"application/json", headers)

    async def invoke(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_PAYLOAD_BYTES:
                await self._fail(send, 413, "ValidationError", f"the request body is over {MAX_PAYLOAD_BYTES:,} "
                                 "bytes (6 MB), SageMaker Runtime's limit: send fewer rows per request, or use a "
                                 "batch transform job")
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        inference_id = headers.get(b"x-amzn-sagemaker-inference-id", b"").decode("latin-1") or str(uuid.uuid4())
        audited = AUDITED_HEADER in headers
        route = self._routes().get(name)
        if route is None:
            self.hooks.invoked(name, inference_id, 400, audited)
            await self._fail(send, 400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
            return
        target = headers.get(b"x-amzn-sagemaker-target-variant")
        if target is not None:
            variant = route.variant(target.decode("latin-1"))
            if variant is None:
                self.hooks.invoked(name, inference_id, 400, audited)
                await self._fail(send, 400, "ValidationError",
                                 f"Endpoint {name} has no production variant {target.decode('latin-1')!r} (its "
                                 f"variants: {', '.join(v.name for v in route.variants)})")
                return
        else:
            variant = route.choose()
        forwarded = [(k, v) for k, v in headers.items() if k in _FORWARDED]
        reply, model_us = await self._send(variant, forwarded, body)
        if route.shadow is not None and random.random() < route.shadow_share:
            task = asyncio.ensure_future(self._shadow(route, forwarded, body, inference_id))
            self._shadows.add(task)
            task.add_done_callback(self._shadows.discard)
        status = 503 if reply is None else 200 if reply.status == 200 else 400 if 400 <= reply.status < 500 \
            else 424
        if route.capture is not None and reply is not None and status == 200:
            self._capture(route, variant.name, headers, body, reply, inference_id)
        self.hooks.invoked(name, inference_id, status, audited)
        overhead = (time.perf_counter() - started) * 1e6 - model_us
        self.hooks.measured(name, variant.name, status, model_us, overhead)
        produced = [(b"x-amzn-invoked-production-variant", variant.name.encode())]
        if reply is None:
            await self._fail(send, 503, "ServiceUnavailable", f"endpoint {name}: variant {variant.name} has no "
                             "instance in service right now (the endpoint is starting, updating or replacing a "
                             "crashed instance); retry shortly — describe-endpoint shows its instances")
        elif status == 200:
            attributes = reply.headers.get(b"x-amzn-sagemaker-custom-attributes")
            if attributes is not None:
                produced.append((b"x-amzn-sagemaker-custom-attributes", attributes))
            await answer(send, 200, reply.body, reply.headers.get(b"content-type", b"application/octet-stream"),
                         produced)
        elif status == 400:
            text = reply.body.decode("utf-8", "replace")
            await self._fail(send, 400, "ValidationError", text)
        else:
            text = reply.body.decode("utf-8", "replace")
            await self._fail(send, 424, "ModelError",
                             f"Received server error ({reply.status}) from model with message \"{text}\".",
                             OriginalStatusCode=reply.status, OriginalMessage=text,
                             LogStreamArn=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/"
                                          f"{name}")

    async def _send(self, variant: VariantRoute, headers: list[tuple[bytes, bytes]],
                    body: bytes) -> tuple[Reply | None, float]:
        """The variant's answer (None when no healthy instance answered) and the model's time in µs."""
        tried: Backend | None = None
        for attempt in range(2):  # the first instance, and once more if it dropped the request
            candidates = variant.healthy(exclude=tried)
            if not candidates:
                return None, 0.0
            backend = min(candidates, key=lambda b: b.in_flight)
            backend.in_flight += 1
            started = time.perf_counter()
            try:
                reply = await backend.upstream.request(b"POST", b"/invocations", headers, body)
            except UpstreamError as exc:
                if attempt == 0 and not variant.healthy(exclude=backend):
                    continue  # the variant's only instance: once more before calling it broken
                backend.broken = True
                self.hooks.broken(backend, str(exc))
                tried = backend
                continue
            finally:
                backend.in_flight -= 1
            return reply, (time.perf_counter() - started) * 1e6
        return None, 0.0

    async def _shadow(self, route: Route, headers: list[tuple[bytes, bytes]], body: bytes,
                      inference_id: str) -> None:
        shadow = route.shadow
        assert shadow is not None
        started = time.perf_counter()
        reply, model_us = await self._send(shadow, headers, body)
        status = 503 if reply is None else 200 if reply.status == 200 else 400 if reply.status < 500 else 424
        if route.capture is not None and reply is not None and status == 200:
            self._capture(route, shadow.name, dict(headers), body, reply, inference_id)
        self.hooks.measured(route.endpoint, shadow.name, status, model_us,
                            (time.perf_counter() - started) * 1e6 - model_us)

    def _capture(self, route: Route, variant: str, headers: dict[bytes, bytes], body: bytes, reply: Reply,
                 inference_id: str) -> None:
        capture = route.capture
        assert capture is not None
        if capture.percentage < 100 and random.random() * 100 >= capture.percentage:
            return
        from crispml.services.serving.runtime.capture import record

        self.hooks.captured(route.endpoint, variant, record(
            capture, headers.get(b"content-type", b"").decode("latin-1"), body if capture.inputs else None,
            reply.headers.get(b"content-type", b"").decode("latin-1"), reply.body if capture.outputs else None,
            inference_id))

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for shadow copies in flight (at shutdown)."""
        if self._shadows:
            await asyncio.wait(list(self._shadows), timeout=timeout)
