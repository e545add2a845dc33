"""The embedded platform: one home's settings, metadata DB, lake store, clock and
services, and the spine that runs every operation.

Opening a platform is cheap and writes nothing when nothing changed: the
metadata DB is migrated only if it is behind, the root account is created only
if the home has none, and each service is imported and built the first time it
is used (by the SDK by name, or by another service with :meth:`Platform.peer`),
so a command that lists buckets loads the lake, IAM and audit and nothing else.
Shells (SDK, CLI, later the server) hold a platform and call operations on its
services; each call runs :meth:`Platform.run`.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from crispml.core.changes import Changes
from crispml.core.clock import Clock, SystemClock
from crispml.core.config import Settings
from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, MetadataLost
from crispml.core.metadb.engine import Database
from crispml.core.metadb.riders import aside, riding
from crispml.core.plugins import redact
from crispml.core.storage.base import BlobStore, open_blob_store
from crispml.services import SERVICES
from crispml.services.audit.service import AuditService
from crispml.services.iam.service import IamService
from crispml.spine.models import Request, Response
from crispml.spine.operations import (
    Body,
    OperationSpec,
    Service,
    timed,
    validate_request,
    wrap_unexpected,
)

S = TypeVar("S", bound=Service)


def service_class(name: str) -> type[Service]:
    """The class of the service called ``name``, imported now (KeyError for an unknown name)."""
    module_name, _, attr = SERVICES[name].partition(":")
    cls: type[Service] = getattr(importlib.import_module(module_name), attr)
    return cls


def load_services() -> list[type[Service]]:
    """Every service class, imported now (which also fills the operation registry): for tools that list
    every operation, such as the CLI's command table and the tests; a platform imports only what it uses."""
    return [service_class(name) for name in SERVICES]


class Platform:
    """Everything one home holds, with the spine that every operation passes through."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock: Clock = clock or SystemClock()
        self._db = Database(settings.db_url)
        self._db.ensure_upgraded(on_empty=lambda: refuse_lost_metadata(settings, self._db))
        self._blobs: BlobStore | None = None
        self._blobs_lock = threading.Lock()
        self._changes = Changes()
        self._services: dict[str, Service] = {}
        self._services_lock = threading.RLock()
        self._iam = self.peer(IamService)
        self._audit = self.peer(AuditService)
        self.root = self._iam.bootstrap()

    # -- what services see (the Runtime protocol) -------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def db(self) -> Database:
        return self._db

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def changes(self) -> Changes:
        """Change notices of this process (``core/changes.py``): when to read a state again."""
        return self._changes

    @property
    def blobs(self) -> BlobStore:
        with self._blobs_lock:
            if self._blobs is None:
                store = open_blob_store(self._settings.lake_url, self._settings)
                store.check()
                self._blobs = store
            return self._blobs

    def service(self, name: str) -> Service:
        """The service called ``name`` (``lake``, ``catalog``, …), built on first use."""
        found = self._services.get(name)
        if found is None:
            if name not in SERVICES:
                raise KeyError(name)
            found = self.peer(service_class(name))
        return found

    def peer(self, cls: type[S]) -> S:
        """This platform's instance of ``cls``, built on first use (one per platform)."""
        found = self._services.get(cls.name)
        if found is None:
            with self._services_lock:
                found = self._services.get(cls.name)
                if found is None:
                    found = self._services[cls.name] = cls(self)
        if not isinstance(found, cls):
            raise TypeError(f"service {cls.name!r} is a {type(found).__name__}, not a {cls.__name__}")
        return found

    @property
    def service_names(self) -> list[str]:
        """Every service's name, built or not."""
        return sorted(SERVICES)

    # -- the spine -----------------------------------------------------------

    def run(self, spec: OperationSpec, ctx: CallContext, request: Any, body: Body) -> Response:
        """Validate the request, authorize the caller, run, then audit and measure.

        Once the call is authorized, its audit event rides on the first write transaction the call commits
        (:meth:`AuditService.pending`), so a change and its event commit together. The call's own statements
        never carry the event of a call it runs inside (:func:`~crispml.core.metadb.riders.aside`)."""
        with aside():
            return self._run(spec, ctx, request, body)

    def _run(self, spec: OperationSpec, ctx: CallContext, request: Any, body: Body) -> Response:
        ctx = ctx.for_call()
        audit = self._audit
        elapsed = timed()
        resource = f"crn:crispml:{spec.service}:::*"
        validated: Request | None = None
        pending = None
        try:
            validated = validate_request(spec, request)
            resource = spec.resource(validated)
            self._iam.authorize(ctx, spec.action, resource)
            pending = audit.pending(ctx, spec.action, resource, _parameters(validated), elapsed,
                                    read_only=not spec.mutating)
            with riding(pending.rider), audit.opened(pending):
                response = body(ctx, validated)
        except Exception as exc:
            error = self._failure(spec, exc)
            if pending is None:
                audit.record(ctx, spec.action, resource, error=error, duration_ms=elapsed(),
                             parameters=_parameters(validated))
            else:
                audit.finish(pending, error)
            if error is exc:
                raise
            raise error from exc
        audit.finish(pending, None)
        return response

    def run_each(self, spec: OperationSpec, ctx: CallContext, requests: list[Any],
                 body: Callable[[list[Request]], list[Any]]) -> list[Any]:
        """One operation over several requests in one step, each still a call of its own: validated,
        authorized and audited (one event per request, the events written in one transaction).

        ``body`` runs once, for the requests that passed, and returns one result per request — a value,
        or the :class:`CrispmlError` that request failed with. The results come back in request order,
        each a value or the error of that request (invalid, refused, or failed), for the caller to raise
        with what it knows about the request. It is for trusted
        code inside a service that needs many objects at once — the query engine opening a table's
        files — where one round trip per object would cost more than the work.
        """
        with aside():
            return self._run_each(spec, ctx, requests, body)

    def _run_each(self, spec: OperationSpec, ctx: CallContext, requests: list[Any],
                  body: Callable[[list[Request]], list[Any]]) -> list[Any]:
        ctx = ctx.for_call()
        audit = self._audit
        elapsed = timed()
        resources = [f"crn:crispml:{spec.service}:::*"] * len(requests)
        validated: list[Request | None] = [None] * len(requests)
        outcomes: list[Any] = [None] * len(requests)
        for i, raw in enumerate(requests):
            try:
                validated[i] = request = validate_request(spec, raw)
                resources[i] = spec.resource(request)
            except Exception as exc:
                outcomes[i] = self._failure(spec, exc)
        checked = [i for i in range(len(requests)) if validated[i] is not None]
        for i, refusal in zip(checked, self._iam.authorize_each(ctx, spec.action, [resources[i] for i in checked]),
                              strict=True):
            outcomes[i] = refusal
        allowed = [i for i in checked if outcomes[i] is None]
        if allowed:
            try:
                results = body([validated[i] for i in allowed])  # type: ignore[misc]
            except Exception as exc:
                results = [self._failure(spec, exc)] * len(allowed)
            for i, result in zip(allowed, results, strict=True):
                outcomes[i] = result
        errors = [o if isinstance(o, CrispmlError) else None for o in outcomes]
        audit.record_many(ctx, spec.action, [(resources[i], errors[i], _parameters(validated[i]))
                                             for i in range(len(requests))], duration_ms=elapsed(),
                          read_only=not spec.mutating)
        return outcomes

    def gathering(self) -> AbstractContextManager[None]:
        """Work a call started and left running on this thread (a query's run), until the block ends: the
        audit events of its read-only calls commit with its own first write (:meth:`AuditService.gathering`)."""
        return self._audit.gathering()

    def _failure(self, spec: OperationSpec, exc: Exception) -> CrispmlError:
        """The error a call that raised ``exc`` fails with: a storage fault of the metadata DB by name
        (full, read-only, damaged) wherever it surfaced, else :func:`wrap_unexpected`'s."""
        if isinstance(exc, DBAPIError):
            fault = self._db.fault(exc)
            if fault is not None:
                return fault
        return wrap_unexpected(spec, exc)

    def close(self) -> None:
        for service in list(self._services.values()):
            service.close()
        self._db.dispose()


#: How many lake files the check of a home with no metadata looks at, at most (it needs one to refuse).
_LAKE_SAMPLE = 200


def refuse_lost_metadata(settings: Settings, db: Database) -> None:
    """Refuse to build a new, empty metadata DB over a lake that holds data (MetadataLost).

    A home whose ``meta.db`` was deleted or emptied would otherwise be opened as a new home: every bucket,
    table and job then "does not exist" while their bytes sit in the lake. Runs once, when the database has
    no schema at all. To start an empty catalog over such a lake on purpose, ``crispml db upgrade`` first.
    """
    try:
        store = open_blob_store(settings.lake_url, settings)
        keys = list(itertools.islice(store.list(), _LAKE_SAMPLE))
    except (CrispmlError, OSError):  # a lake that cannot be listed now holds nothing this check can see
        return
    if not keys:
        return
    buckets = sorted({key.split("/", 1)[0] for key in keys})
    shown = ", ".join(buckets[:5]) + (", …" if len(buckets) > 5 else "")
    where = db.url.database if db.dialect == "sqlite" else db.display_url
    raise MetadataLost(
        f"the metadata database {db.display_url} is empty or missing, but the lake {redact(settings.lake_url)} "
        f"holds data (buckets: {shown}): opening this home would start an empty catalog, and every bucket, "
        f"table and job would 'not exist'. Restore the metadata database from a backup ({where}, with its "
        f"-wal file if any), or point CRISPML_DB_URL at this home's database; to start an empty catalog over "
        f"this lake on purpose, run 'crispml db upgrade' first"
    )


def _parameters(request: Request | None) -> dict[str, Any] | None:
    """What the audit record keeps of a request: its plain fields, no bodies or secrets."""
    if request is None:
        return None
    skip = {
        name for name, field in type(request).model_fields.items()
        if (field.json_schema_extra or {}).get("stream") or (field.json_schema_extra or {}).get("secret")  # type: ignore[union-attr]
    }
    try:
        return request.model_dump(mode="json", exclude=skip, exclude_defaults=True)
    except (RecursionError, ValueError):  # nested deeper than Python or pydantic go: record that, not the value
        return {"truncated": "request parameters nested too deeply to record"}

