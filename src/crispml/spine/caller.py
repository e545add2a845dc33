"""The platform's services as one caller sees them, for code inside a service.

``Caller(runtime, ctx).lake.get_object(bucket=..., key=...)`` calls the lake's
``GetObject`` operation as ``ctx``'s principal, through the spine (authorized,
audited, measured), with a fresh request id per call — the same shape as the
SDK's ``client.lake``, so anything written against a client (the lake's fsspec
filesystem, say) can act for the caller of an operation. It is how a service
does work on a caller's behalf (a crawler reading the lake, then writing the
catalog) without a path around permission checks. It is not a client: it
opens nothing and has no identity of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crispml.core.context import CallContext
from crispml.spine.operations import Runtime, Service


class Caller:
    """A client-like view of the platform acting as one caller's principal."""

    def __init__(self, runtime: Runtime, ctx: CallContext) -> None:
        self._runtime = runtime
        self._ctx = ctx

    @property
    def principal(self) -> str:
        return self._ctx.principal

    @property
    def runtime(self) -> Runtime:
        """The platform the calls run on, for trusted in-process helpers (the lake's ``local_path``)."""
        return self._runtime

    def context(self) -> CallContext:
        """A fresh context (new request id) for the same principal and source."""
        return CallContext(principal=self._ctx.principal, source=self._ctx.source)

    def __getattr__(self, name: str) -> CallerService:
        if name.startswith("_"):
            raise AttributeError(name)
        return CallerService(self, self._runtime.service(name))


class CallerService:
    """One service's operations bound to a :class:`Caller`: ``caller.lake.list_buckets()``."""

    def __init__(self, caller: Caller, service: Service) -> None:
        self._caller = caller
        self._service = service

    def __getattr__(self, attr: str) -> Callable[..., Any]:
        if attr not in type(self._service).operations:
            known = ", ".join(sorted(type(self._service).operations))
            raise AttributeError(f"service {self._service.name!r} has no operation {attr!r} (operations: {known})")
        method = getattr(self._service, attr)

        def call(request: Any = None, /, **fields: Any) -> Any:
            return method(self._caller.context(), request, **fields)

        return call
