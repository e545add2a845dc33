"""The SDK client: ``client.<service>.<operation>(**fields)``.

Methods are derived from the operation declarations, so the SDK offers exactly
the operations the CLI offers, with the same fields and validation. Each call
gets its own request id and passes through the platform's spine.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from crispml.core.clock import Clock
from crispml.core.config import Settings, load_settings
from crispml.core.context import CallContext
from crispml.core.errors import InvalidArgument
from crispml.platform import Platform
from crispml.services import SERVICES
from crispml.spine.operations import OperationSpec, Service

#: What the SDK adds to a service beyond its operations: (service, name) → ``"module:function"`` taking the
#: client first (``client.registry.load(name)``); imported when first used.
HELPERS = {("registry", "load"): "crispml.sdk.models:load",
           ("query", "read_sql"): "crispml.sdk.frames:read_sql",
           ("query", "read_sql_arrow"): "crispml.sdk.frames:read_sql_arrow"}


class BoundService:
    """A service with the client's identity bound: ``client.lake.create_bucket(bucket=...)``."""

    def __init__(self, client: Client, service: Service) -> None:
        self._client = client
        self._service = service
        self.name = service.name

    def __getattr__(self, attr: str) -> Callable[..., Any]:
        helper = HELPERS.get((self.name, attr))
        if helper is not None:
            import functools
            import importlib

            module, _, function = helper.partition(":")
            return functools.partial(getattr(importlib.import_module(module), function), self._client)
        spec = type(self._service).operations.get(attr)
        if spec is None:
            known = ", ".join(sorted(type(self._service).operations))
            raise AttributeError(f"service {self.name!r} has no operation {attr!r} (operations: {known})")
        return _method(self, spec)

    def __dir__(self) -> list[str]:
        return sorted([*type(self._service).operations, *(n for s, n in HELPERS if s == self.name)])

    def __repr__(self) -> str:
        return f"<crispml {self.name} service>"


def _method(bound: BoundService, spec: OperationSpec) -> Callable[..., Any]:
    method = getattr(bound._service, spec.method_name)

    def call(request: Any = None, /, **fields: Any) -> Any:
        return method(bound._client.context(), request, **fields)

    call.__name__ = spec.method_name
    call.__doc__ = spec.doc
    call.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                          default=inspect.Parameter.empty if f.is_required() else f.default,
                          annotation=f.annotation)
        for name, f in spec.request_model.model_fields.items()
    ])
    return call


class Client:
    """A connection to one crispml home (embedded) — later also to a server."""

    def __init__(self, platform: Platform, *, principal: str, source: str = "sdk") -> None:
        self.platform = platform
        self.principal = principal
        self.source = source
        self._bound: dict[str, BoundService] = {}
        self._fs: Any = None

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def fs(self) -> Any:
        """The lake as an fsspec filesystem (``lake://bucket/key``) acting as this client."""
        if self._fs is None:
            from crispml.services.lake.service import LakeService

            self._fs = self.platform.peer(LakeService).filesystem(self.context())
        return self._fs

    @property
    def storage_options(self) -> dict[str, Any]:
        """What pandas/pyarrow need to reach ``lake://`` as this client: ``storage_options=client.storage_options``."""
        return {"client": self}

    def context(self) -> CallContext:
        """A fresh call context (new request id) for this client's principal."""
        return CallContext(principal=self.principal, source=self.source)

    def as_principal(self, principal: str) -> Client:
        """The same home, calling as another principal."""
        return Client(self.platform, principal=principal, source=self.source)

    def __getattr__(self, name: str) -> BoundService:
        platform = self.__dict__.get("platform")
        if name.startswith("_") or platform is None or name not in SERVICES:
            raise AttributeError(f"crispml has no service {name!r} (services: {', '.join(sorted(SERVICES))})")
        bound = self._bound.get(name)
        if bound is None:
            bound = self._bound[name] = BoundService(self, platform.service(name))
        return bound

    def close(self) -> None:
        self.platform.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    target: str | None = None, *, principal: str | None = None, clock: Clock | None = None,
    source: str = "sdk", **settings: Any,
) -> Client:
    """Open a crispml home: ``connect()`` uses ``$CRISPML_HOME``; ``connect(home=...)`` another one.

    ``target`` may be a folder path (a home). Remote servers (``https://…``)
    come with the server.
    """
    if target is not None:
        if target.startswith(("http://", "https://")):
            raise InvalidArgument("connecting to a crispml server is not available yet; open a home folder")
        settings["home"] = target
    resolved = load_settings(**settings)
    return Client(Platform(resolved, clock=clock), principal=principal or resolved.principal, source=source)
