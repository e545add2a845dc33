"""Declaring operations, and the one path every call takes.

An operation is a method on a :class:`Service` decorated with
:func:`operation`::

    class LakeService(Service):
        name = "lake"

        @operation("CreateBucket", resource=lambda r: crn("lake", f"bucket/{r.bucket}"))
        def create_bucket(self, ctx: CallContext, request: CreateBucketRequest) -> CreateBucketResponse:
            ...

The decorator records an :class:`OperationSpec` (action ``lake:CreateBucket``,
request and response models, resource) in :data:`REGISTRY` and replaces the
method with a wrapper that always goes through the platform's spine:
validate the request once, authorize the caller, run, then audit and measure —
on success and on failure. There is no other way to run the method body.

A service calls another service one way: through that service's operations,
as the caller whose request it serves, with the request model —
``self.peer(LakeService).head_bucket(ctx, BucketRequest(bucket=name))``. The
decorator keeps the method's signature, so mypy checks the request's fields and
the response's type; the call still runs through the spine (authorized and
audited as ``ctx``'s principal, under a request id of its own). What a service
offers others besides its operations is declared in its public ``service.py``.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, Internal, InvalidArgument
from crispml.spine.models import Request, Response, invalid

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crispml.core.changes import Changes
    from crispml.core.clock import Clock
    from crispml.core.config import Settings
    from crispml.core.metadb.engine import Database
    from crispml.core.storage.base import BlobStore

R = TypeVar("R", bound=Response)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound="Service")
#: What an operation's body gets: the context the call runs under and the validated request.
Body = Callable[[CallContext, Request], Response]


@dataclass(frozen=True)
class CliHints:
    """How the derived CLI command differs from the plain field-per-option default."""

    positional: tuple[str, ...] = ()
    outfile: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class OperationSpec:
    """One declared operation."""

    service: str
    name: str
    method_name: str
    request_model: type[Request]
    response_model: type[Response]
    resource: Callable[[Any], str]
    summary: str
    doc: str
    cli: CliHints = field(default_factory=CliHints)
    mutating: bool = True

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def cli_name(self) -> str:
        return kebab(self.name)


class Runtime(Protocol):
    """What the platform gives every service: state, bytes, time, and the spine."""

    @property
    def db(self) -> Database: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def changes(self) -> Changes: ...

    @property
    def settings(self) -> Settings: ...

    def peer(self, cls: type[S]) -> S:
        """The platform's instance of another service (built on first use), to call its operations."""
        ...

    def run(self, spec: OperationSpec, ctx: CallContext, request: Any, body: Body) -> Response:
        """Validate, authorize, run ``body`` (with the context the call runs under), audit and measure."""
        ...

    def run_each(self, spec: OperationSpec, ctx: CallContext, requests: list[Any],
                 body: Callable[[list[Request]], list[Any]]) -> list[Any]:
        """:meth:`run` for several requests of one operation in one step (one audit event each); one
        result per request, a value or the error of that request."""
        ...

    def gathering(self) -> AbstractContextManager[None]:
        """For work a call started and left running on this thread: the audit events of the read-only calls
        it makes commit with the work's own first write transaction."""
        ...


class Registry:
    """Every operation of every service, by action name."""

    def __init__(self) -> None:
        self._by_action: dict[str, OperationSpec] = {}

    def add(self, spec: OperationSpec) -> None:
        existing = self._by_action.get(spec.action)
        if existing is not None and existing.method_name != spec.method_name:
            raise RuntimeError(f"operation {spec.action} declared twice")
        self._by_action[spec.action] = spec

    def get(self, action: str) -> OperationSpec:
        try:
            return self._by_action[action]
        except KeyError:
            raise InvalidArgument(f"unknown operation {action!r}") from None

    def all(self) -> list[OperationSpec]:
        return sorted(self._by_action.values(), key=lambda s: s.action)

    def for_service(self, service: str) -> list[OperationSpec]:
        return [s for s in self.all() if s.service == service]

    def services(self) -> list[str]:
        return sorted({s.service for s in self._by_action.values()})


REGISTRY = Registry()


def operation(
    name: str,
    *,
    resource: Callable[[Any], str],
    positional: tuple[str, ...] = (),
    outfile: bool = False,
    mutating: bool = True,
) -> Callable[[F], F]:
    """Declare a service method as the operation ``name`` (AWS PascalCase)."""
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", name):
        raise ValueError(f"operation name {name!r} must be PascalCase")

    def decorate(method: F) -> F:
        method.__crispml_operation__ = {  # type: ignore[attr-defined]
            "name": name, "resource": resource,
            "cli": CliHints(positional=positional, outfile=outfile), "mutating": mutating,
        }
        return method

    return decorate


class RuntimeAccess:
    """Typed access to the platform's state, time and bytes; for services and their mixins."""

    runtime: Runtime

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def blobs(self) -> BlobStore:
        return self.runtime.blobs

    def peer(self, cls: type[S]) -> S:
        """Another service of this platform, whose operations this one calls for its caller:
        ``self.peer(LakeService).head_bucket(ctx, BucketRequest(bucket=name))``."""
        return self.runtime.peer(cls)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read session on the metadata DB."""
        with self.db.read() as session:
            yield session

    def _writing(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction (retried when a concurrent writer won a race)."""
        return self.db.transact(work)


class Service(RuntimeAccess):
    """Base of every service. Subclasses set ``name`` and declare operations."""

    name: ClassVar[str]
    operations: ClassVar[dict[str, OperationSpec]]

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def close(self) -> None:
        """Release what the service holds open (connections, engines); the platform calls it on close."""
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.operations = {}
        # Operations may live on the class itself or on plain mixin classes it
        # combines (a large service splits its operations over several modules).
        for attr in dir(cls):
            member = getattr(cls, attr, None)
            existing = getattr(member, "__crispml_spec__", None)
            if existing is not None:
                cls.operations[attr] = existing
                continue
            meta = getattr(member, "__crispml_operation__", None)
            if meta is None or not callable(member):
                continue
            spec = _spec_for(cls, attr, member, meta)
            REGISTRY.add(spec)
            cls.operations[attr] = spec
            setattr(cls, attr, _through_spine(spec, member))


def _spec_for(cls: type[Service], attr: str, method: Callable[..., Any], meta: dict[str, Any]) -> OperationSpec:
    hints = get_type_hints(method)
    request_model = hints.get("request")
    response_model = hints.get("return")
    if not (isinstance(request_model, type) and issubclass(request_model, Request)):
        raise TypeError(f"{cls.__name__}.{attr}: 'request' must be annotated with a Request model")
    if not (isinstance(response_model, type) and issubclass(response_model, Response)):
        raise TypeError(f"{cls.__name__}.{attr}: the return type must be a Response model")
    doc = inspect.getdoc(method) or ""
    return OperationSpec(
        service=cls.name, name=meta["name"], method_name=attr,
        request_model=request_model, response_model=response_model,
        resource=meta["resource"], summary=doc.split("\n", 1)[0], doc=doc,
        cli=meta["cli"], mutating=meta["mutating"],
    )


def _through_spine(spec: OperationSpec, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Service, ctx: CallContext, request: Any = None, /, **fields: Any) -> Any:
        if not isinstance(ctx, CallContext):
            raise TypeError(f"{spec.action}: the first argument must be a CallContext")
        return self.runtime.run(
            spec, ctx, _RawRequest(request, fields),
            lambda used, validated: method(self, used, validated),
        )

    call.__crispml_spec__ = spec  # type: ignore[attr-defined]
    return call


@dataclass
class _RawRequest:
    """A request as the caller gave it, validated by the spine (so failures are audited)."""

    given: Any
    fields: dict[str, Any]


def validate_request(spec: OperationSpec, raw: Any) -> Request:
    """Validate what a caller passed into the operation's request model, once."""
    given, fields = (raw.given, raw.fields) if isinstance(raw, _RawRequest) else (raw, {})
    if isinstance(given, spec.request_model) and not fields:
        return given
    data: dict[str, Any] = {}
    if isinstance(given, BaseModel):
        data.update(given.model_dump(exclude_unset=True))
    elif isinstance(given, dict):
        data.update(given)
    elif given is not None:
        raise InvalidArgument(
            f"{spec.action}: the request must be a {spec.request_model.__name__} or keyword fields"
        )
    data.update(fields)
    try:
        return spec.request_model.model_validate(data)
    except ValidationError as exc:
        raise request_error(spec, exc) from None
    except RecursionError:
        raise InvalidArgument(f"{spec.action} request is nested too deeply (lists or objects hundreds of "
                              "levels inside each other); no request needs that depth: check the value") from None


def request_error(spec: OperationSpec, exc: ValidationError) -> CrispmlError:
    """One uniform InvalidArgument (or the service's own error) for a failed validation."""
    return invalid(f"{spec.action} request", exc, list(spec.request_model.model_fields))


def kebab(name: str) -> str:
    """``CreateBucket`` → ``create-bucket``; ``snake_case`` → ``snake-case``."""
    name = name.replace("_", "-")
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def snake(name: str) -> str:
    return kebab(name).replace("-", "_")


def timed() -> Callable[[], float]:
    start = time.perf_counter()
    return lambda: (time.perf_counter() - start) * 1000.0


def wrap_unexpected(spec: OperationSpec, exc: BaseException) -> CrispmlError:
    if isinstance(exc, CrispmlError):
        return exc
    return Internal(f"{spec.action} failed unexpectedly: {type(exc).__name__}: {exc}")
