"""The serving runtime's supervisor: it runs the front and converges the instances on the metadata DB.

One process per home (``python -m crispml.servingd``, started by
``control.ensure_running``), holding ``<home>/serving/runtime.lock``. Its main
thread serves the front (``front.py``) with uvicorn; a second thread loops,
like a Kubernetes controller, every quarter second or when woken:

- **reconcile** — for each endpoint row, the instances it wants (per variant,
  its desired count) against those that run: start what is missing (a
  process per instance, ``instance.py``, on a socket bound here), promote a
  ``Pending`` instance to ``InService`` when it answers ``GET /ping``,
  replace one that died (the front also reports one that dropped a request:
  it is taken out of the routes and replaced only if its process exited or
  it then fails :data:`MAX_FAILED_PINGS` pings in a row — a busy instance
  answers its ping behind the requests it is working on),
  drain and stop what is no longer wanted (scale-in, a deleted endpoint, the
  old configuration after an update). An update's instances are started
  beside the old ones and take the traffic only when every one of them
  answers ``/ping``: no request finds the endpoint without a ready instance.
  An instance that cannot load its model three times running fails the
  endpoint (or the update, which leaves the old configuration serving) with
  the instance's own error;
- **publish** — the front's metric windows to CloudWatch, capture spool files
  to the lake, the invocations to the audit log, its heartbeat.

It writes back what is current: the endpoint's status and per-variant current
weights and instance counts, and one row per instance. Killed, it leaves
nothing running (instances exit with their parent) and nothing lost (capture
records are on disk); started again, it starts the instances the DB asks for
and delivers the spool a killed runtime left.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.owners import process_owner
from crispml.services.serving.core import Deployed
from crispml.services.serving.runtime import autoscaler
from crispml.services.serving.runtime import capture as capture_files
from crispml.services.serving.runtime.front import Backend, Capture, Front, Hooks, Route, VariantRoute
from crispml.services.serving.runtime.instance import MODULE as INSTANCE_MODULE
from crispml.services.serving.runtime.instance import last_words
from crispml.services.serving.runtime.instance import start as start_instance
from crispml.services.serving.runtime.metrics import NAMESPACE, Meter, datums, prometheus_text
from crispml.services.serving.runtime.upstream import Upstream
from crispml.services.serving.runtime.zygote import Forked, Zygote
from crispml.services.serving.store import EndpointRow, InstanceRow, RuntimeRow

if TYPE_CHECKING:
    from crispml.services.serving.service import ServingService

#: Seconds between passes when nothing wakes the loop.
PASS_SECONDS = 0.25
#: Seconds between publications of metrics, capture and audit records.
PUBLISH_SECONDS = 2.0
HEARTBEAT_SECONDS = 5.0
#: Starts of one variant's instances that fail in a row before the endpoint (or its update) fails.
MAX_FAILED_STARTS = 3
#: Pings in a row an instance that dropped a request may fail (2 s each) before it is replaced.
MAX_FAILED_PINGS = 3
#: Longest wait for a draining instance's requests to finish.
DRAIN_SECONDS = 30.0
#: Shortest time a draining instance stays up after it left the routes.
DRAIN_GRACE_SECONDS = 0.5


@dataclass(eq=False)
class Instance:
    instance_id: str
    endpoint: str
    generation: int
    config_name: str
    variant: str
    process: Forked | subprocess.Popen[bytes]
    port: int
    log: Path
    started: float
    status: str = "Pending"  # Pending | InService | Draining
    restarts: int = 0
    drain_since: float = 0.0
    failed_pings: int = 0  # in a row, since it dropped a request
    backend: Backend = field(init=False)

    def __post_init__(self) -> None:
        self.backend = Backend(self.instance_id, self.variant, Upstream(self.port))

    def error(self) -> str:
        """The instance's own last words, else its exit status."""
        return last_words(self.log, self.process.returncode)


@dataclass
class Deployment:
    """What an endpoint wants running: one generation of its configuration."""

    endpoint: str
    generation: int
    config_name: str
    deployed: Deployed
    states: list[dict[str, Any]]
    principal: str


class Supervisor(Hooks):
    def __init__(self, service: ServingService) -> None:
        self.service = service
        self.settings = service.runtime.settings
        self.folder = self.settings.home / "serving"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.routes: dict[str, Route] = {}
        self.meter = Meter()
        self.spool = capture_files.Spool(self.folder / "capture", service.clock.now)
        self.instances: dict[str, Instance] = {}
        self.failed_starts: dict[tuple[str, int, str], int] = {}
        self.failures: dict[tuple[str, int], str] = {}
        self.capture_prefix: dict[str, str] = {}
        self.principals: dict[str, str] = {}
        self.invocations: list[tuple[str, str, int]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.woken = threading.Event()
        self.stopping = threading.Event()
        self.written: Any = None
        self.url = ""
        self.lock: Any = None
        self.front = Front(self, lambda: self.routes)
        self.zygote = Zygote(self.folder / "instances" / "zygote.log")

    # -- hooks called by the front (on its event loop) ------------------------------------------------------

    def broken(self, backend: Backend, error: str) -> None:
        print(f"crispml runtime: instance {backend.instance_id} dropped a request ({error}); checking it",
              file=sys.stderr, flush=True)
        self.woken.set()

    def measured(self, endpoint: str, variant: str, status: int, model_us: float, overhead_us: float) -> None:
        self.meter.add(endpoint, variant, status, model_us, overhead_us)

    def captured(self, endpoint: str, variant: str, record: dict[str, Any]) -> None:
        self.spool.append(endpoint, variant, record, self.capture_prefix[endpoint])

    def invoked(self, endpoint: str, inference_id: str, status: int, audited: bool) -> None:
        if not audited:
            self.invocations.append((endpoint, inference_id, status))

    def wake(self) -> None:
        self.woken.set()

    def metrics_text(self) -> bytes:
        return prometheus_text(self.meter, self._in_service())

    # -- the process -------------------------------------------------------------------------------------

    def run(self) -> int:
        lock = open(self.folder / "runtime.lock", "w")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("crispml runtime: another runtime serves this home", file=sys.stderr)
            return 0
        self.lock = lock
        (self.folder / "instances").mkdir(exist_ok=True)
        self.zygote.start()  # it imports what instances need while this process starts
        from crispml.services.serving.runtime.server import serve

        listener = self._listen()
        port = listener.getsockname()[1]
        self.url = f"http://{self.settings.serving_host}:{port}"
        self._forget_instances()
        self._deliver_capture()
        now = self.service.clock.now()

        def register(session: Session) -> None:
            session.execute(delete(RuntimeRow))
            session.add(RuntimeRow(name="runtime", owner=process_owner(), url=self.url, port=port, started_at=now,
                                   heartbeat_at=now))
        self.service.db.transact(register)
        worker = threading.Thread(target=self._loop, name="crispml-serving-supervisor", daemon=True)
        worker.start()
        try:
            serve(self._app, listener)
        finally:
            self.stopping.set()
            self.woken.set()
            worker.join(timeout=DRAIN_SECONDS + 10)
            self._shutdown()
        return 0

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if scope["type"] == "lifespan":
            self.loop = asyncio.get_running_loop()
        await self.front(scope, receive, send)

    def _listen(self) -> socket.socket:
        """The front's socket: the configured port, else the one this home used last (so clients keep their
        URL across restarts), else any free one."""
        wanted = [self.settings.serving_port] if self.settings.serving_port else []
        with self.service.db.read() as session:
            previous = session.get(RuntimeRow, "runtime")
            if previous is not None and not wanted:
                wanted.append(previous.port)
        if not self.settings.serving_port:
            wanted.append(0)
        last: OSError | None = None
        for port in wanted:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self.settings.serving_host, port))
            except OSError as exc:
                listener.close()
                last = exc
                continue
            listener.listen(2048)
            return listener
        raise SystemExit(f"crispml runtime: cannot listen on {self.settings.serving_host}:{wanted[0]}: {last}")

    def _forget_instances(self) -> None:
        """Instance rows of a runtime that died: their processes exited with it (any still running is
        stopped), so the rows go."""
        with self.service.db.read() as session:
            rows = [(r.pid, r.instance_id) for r in session.scalars(select(InstanceRow))]
        for pid, _ in rows:
            if pid and _is_instance(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.service.db.transact(lambda session: session.execute(delete(InstanceRow)))

    def _shutdown(self) -> None:
        for instance in list(self.instances.values()):
            self._stop(instance)
        self.instances.clear()
        self.zygote.stop()
        for last in (self._publish, self.spool.seal, self._deliver_capture):
            try:
                last()
            except Exception:  # the rest of the shutdown still runs; what was spooled stays for the next start
                traceback.print_exc(file=sys.stderr)
        owner = process_owner()

        def unregister(session: Session) -> None:
            session.execute(delete(InstanceRow))
            session.execute(delete(RuntimeRow).where(RuntimeRow.owner == owner))
        self.service.db.transact(unregister)

    # -- the loop ----------------------------------------------------------------------------------------

    def _loop(self) -> None:
        published = beat = time.monotonic()
        while not self.stopping.is_set():
            self.woken.wait(PASS_SECONDS)
            self.woken.clear()
            if self.stopping.is_set():
                return
            try:
                self.reconcile()
                now = time.monotonic()
                if now - published >= PUBLISH_SECONDS:
                    published = now
                    self._publish()
                    autoscaler.evaluate(self.service, self.meter, self._in_service(), now)
                    self.spool.seal()
                    self._deliver_capture()
                if now - beat >= HEARTBEAT_SECONDS:
                    beat = now
                    self._heartbeat()
            except Exception:
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                time.sleep(1.0)

    def _home_gone(self) -> bool:
        """Whether this home was deleted (or replaced) under the runtime: its lock file is not the one held."""
        try:
            return os.stat(self.folder / "runtime.lock").st_ino != os.fstat(self.lock.fileno()).st_ino
        except OSError:
            return True

    def _heartbeat(self) -> None:
        if self._home_gone():
            print("crispml runtime: its home was deleted; stopping", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)  # the server stops as on 'crispml serving stop-runtime'
            return
        now = self.service.clock.now()

        def beat(session: Session) -> None:
            row = session.get(RuntimeRow, "runtime")
            if row is not None and row.owner == process_owner():
                row.heartbeat_at = now
        self.service.db.transact(beat)

    # -- reconcile ---------------------------------------------------------------------------------------

    def _deployments(self) -> tuple[list[EndpointRow], dict[str, list[Deployment]]]:
        with self.service.db.read() as session:
            rows = list(session.scalars(select(EndpointRow)))
            for row in rows:
                session.expunge(row)
        wanted: dict[str, list[Deployment]] = {}
        for row in rows:
            current = Deployment(row.name, row.generation if row.pending_config is None else row.generation - 1,
                                 row.config_name, Deployed(row.definition), json.loads(row.variants), row.principal)
            wanted[row.name] = [current]
            if row.pending_config is not None and row.pending_definition is not None:
                document = json.loads(row.pending_definition)
                wanted[row.name].append(Deployment(row.name, row.generation, row.pending_config,
                                                   Deployed(document), document["variants"], row.principal))
        return rows, wanted

    def reconcile(self) -> None:
        rows, wanted = self._deployments()
        self.principals = {row.name: row.principal for row in rows}
        self._drain_unwanted(wanted)
        for row in rows:
            for deployment in wanted[row.name]:
                if row.status == "Failed" and row.pending_config is None:
                    continue
                self._converge(deployment)
        self._check_instances()
        # what runs is routed and recorded before the status says so: a caller who sees InService finds both
        self._build_routes(rows, wanted)
        self._write_instances()
        if self._settle(rows, wanted):  # an update was promoted or rolled back: route by what is current now
            rows, wanted = self._deployments()
            self._drain_unwanted(wanted)
        self._build_routes(rows, wanted)  # draining instances leave the routes before they are stopped
        self._finish_draining()
        self._write_instances()

    def _drain_unwanted(self, wanted: dict[str, list[Deployment]]) -> None:
        """Drain the instances of endpoints that are gone and of configurations an update replaced."""
        live = {(d.endpoint, d.generation) for deployments in wanted.values() for d in deployments}
        for instance in list(self.instances.values()):
            if (instance.endpoint, instance.generation) not in live and instance.status != "Draining":
                self._drain(instance)

    def _mine(self, endpoint: str, generation: int, variant: str | None = None) -> list[Instance]:
        return [i for i in self.instances.values() if i.endpoint == endpoint and i.generation == generation
                and i.status != "Draining" and (variant is None or i.variant == variant)]

    def _converge(self, deployment: Deployment) -> None:
        key = (deployment.endpoint, deployment.generation)
        if key in self.failures:
            return
        for state in deployment.states:
            variant = state["variant_name"]
            running = self._mine(deployment.endpoint, deployment.generation, variant)
            want = int(state["desired_instance_count"])
            for _ in range(want - len(running)):
                self._start(deployment, variant, state["model_name"])
            extra = len(running) - want
            if extra > 0:  # scale-in: the newest go first, the ones still starting before those in service
                for instance in sorted(running, key=lambda i: (i.status == "InService", -i.started))[:extra]:
                    self._drain(instance)

    def _start(self, deployment: Deployment, variant: str, model: str, restarts: int = 0) -> Instance | None:
        try:
            folder = self._unpack(deployment, variant, model)
        except Exception as exc:
            self._fail(deployment.endpoint, deployment.generation, f"variant {variant}: model {model!r} could not "
                       f"be fetched: {type(exc).__name__}: {exc}")
            return None
        instance_id = f"{deployment.endpoint}-{variant}-{uuid.uuid4().hex[:8]}"
        log = self.folder / "instances" / f"{instance_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        process: Forked | subprocess.Popen[bytes]
        try:
            process, port = self.zygote.fork(folder, log)
        except OSError as exc:  # a fork server that cannot start: the instance starts as a process of its own
            print(f"crispml runtime: {exc}; starting {instance_id} unforked", file=sys.stderr, flush=True)
            process, port = start_instance(folder, log)
        instance = Instance(instance_id, deployment.endpoint, deployment.generation, deployment.config_name,
                            variant, process, port, log, time.monotonic(), restarts=restarts)
        self.instances[instance_id] = instance
        return instance

    def _unpack(self, deployment: Deployment, variant: str, model: str) -> dict[str, Any]:
        """The model's folders for its instances, fetched once per deployment and variant."""
        folder = self.folder / "models" / deployment.endpoint / str(deployment.generation) / variant
        ready = folder / "container.json"
        if ready.exists():
            return dict(json.loads(ready.read_text()))
        from crispml.services.registry.service import RegistryService

        ctx = CallContext(principal=deployment.principal, source="serving-runtime")
        registry = self.service.peer(RegistryService)
        image, url, environment, _ = registry.container_of(ctx, model)
        model_dir, code_dir = registry.unpack_container(ctx, url, environment, folder)
        description = {"image": image, "model_dir": str(model_dir), "code_dir": str(code_dir) if code_dir else None,
                       "environment": environment}
        ready.write_text(json.dumps(description))
        return description

    def _check_instances(self) -> None:
        deployments = {(d.endpoint, d.generation): d for ds in self._deployments()[1].values() for d in ds}
        for instance in list(self.instances.values()):
            if instance.status == "Draining":
                continue
            exited = instance.process.poll() is not None
            if instance.status == "Pending":
                if exited:
                    self._failed_start(instance)
                elif _ping(instance.port, timeout=0.2):  # one still loading its model does not answer yet
                    instance.status = "InService"
                    self.failed_starts.pop((instance.endpoint, instance.generation, instance.variant), None)
                continue
            if not exited and instance.backend.broken:
                if _ping(instance.port):  # a dropped connection, not a dead instance: back into the routes
                    instance.backend.broken, instance.failed_pings = False, 0
                    continue
                instance.failed_pings += 1
                print(f"crispml runtime: instance {instance.instance_id} did not answer /ping "
                      f"({instance.failed_pings} of {MAX_FAILED_PINGS})", file=sys.stderr, flush=True)
            if exited or instance.failed_pings >= MAX_FAILED_PINGS:
                print(f"crispml runtime: instance {instance.instance_id} stopped answering "
                      f"({instance.error()}); starting another", file=sys.stderr, flush=True)
                self._stop(instance)
                del self.instances[instance.instance_id]
                deployment = deployments.get((instance.endpoint, instance.generation))
                if deployment is not None:
                    model = next(s["model_name"] for s in deployment.states if s["variant_name"] == instance.variant)
                    self._start(deployment, instance.variant, model, restarts=instance.restarts + 1)

    def _failed_start(self, instance: Instance) -> None:
        del self.instances[instance.instance_id]
        key = (instance.endpoint, instance.generation, instance.variant)
        count = self.failed_starts[key] = self.failed_starts.get(key, 0) + 1
        if count >= MAX_FAILED_STARTS:
            self._fail(instance.endpoint, instance.generation,
                       f"variant {instance.variant}: the instance failed to start {count} times: {instance.error()}")

    def _fail(self, endpoint: str, generation: int, reason: str) -> None:
        self.failures[(endpoint, generation)] = reason
        for instance in self._mine(endpoint, generation):
            self._drain(instance)

    def _settle(self, rows: list[EndpointRow], wanted: dict[str, list[Deployment]]) -> bool:
        """Move each endpoint's status on from what runs, and write back what is current; whether an update
        was promoted or rolled back."""
        switched = False
        for row in rows:
            deployments = wanted[row.name]
            newest = deployments[-1]
            failure = self.failures.get((row.name, newest.generation))
            if failure is not None:
                if row.pending_config is not None:
                    self._write_endpoint(row.name, failed_update=failure)
                    switched = True
                elif row.status != "Failed":
                    self._write_endpoint(row.name, status="Failed", reason=failure)
                continue
            ready = all(len([i for i in self._mine(row.name, newest.generation, s["variant_name"])
                             if i.status == "InService"]) >= int(s["desired_instance_count"])
                        for s in newest.states)
            if row.pending_config is not None:
                if ready:  # routed to the new configuration before the status says so, never after
                    self._build_routes(rows, wanted, promoted=row.name)
                    self._write_endpoint(row.name, promote=True)
                    switched = True
                continue
            counts = {s["variant_name"]: len([i for i in self._mine(row.name, newest.generation, s["variant_name"])
                                              if i.status == "InService"]) for s in newest.states}
            changed = any(s["current_instance_count"] != counts[s["variant_name"]] for s in newest.states)
            status = "InService" if ready or (row.status == "InService" and all(counts.values())) else row.status
            if changed or status != row.status:
                self._write_endpoint(row.name, status=status, counts=counts)
        return switched

    def _write_endpoint(self, name: str, *, status: str | None = None, reason: str | None = None,
                        counts: dict[str, int] | None = None, promote: bool = False,
                        failed_update: str | None = None) -> None:
        now = self.service.clock.now()
        models: list[str] | None = None

        def write(session: Session) -> None:
            nonlocal models
            row = session.get(EndpointRow, name, with_for_update=True)
            if row is None:
                return
            if promote and row.pending_definition is not None:
                document = json.loads(row.pending_definition)
                states = document.pop("variants")
                for state in states:
                    state["current_instance_count"] = state["desired_instance_count"]
                row.config_name, row.definition = row.pending_config or row.config_name, json.dumps(document)
                row.variants = json.dumps(states)
                row.pending_config = row.pending_definition = None
                row.status, row.failure_reason = "InService", None
                models = [s["model_name"] for s in states]
            elif failed_update is not None:
                row.pending_config = row.pending_definition = None
                row.status = "InService"
                row.failure_reason = f"the update failed and was rolled back: {failed_update}"
                models = [s["model_name"] for s in json.loads(row.variants)]
            else:
                if counts is not None:
                    states = json.loads(row.variants)
                    for state in states:
                        state["current_instance_count"] = counts.get(state["variant_name"], 0)
                        state["current_weight"] = state["desired_weight"]
                    row.variants = json.dumps(states)
                if status is not None:
                    if status != row.status and status == "InService":
                        row.failure_reason = None if row.status != "InService" else row.failure_reason
                    row.status = status
                if reason is not None:
                    row.failure_reason = reason
            row.modified_at = now
        self.service.db.transact(write)
        if models is not None:
            from crispml.services.registry.service import RegistryService

            self.service.peer(RegistryService).use_models(name, models)

    def _drain(self, instance: Instance) -> None:
        instance.status = "Draining"
        instance.drain_since = time.monotonic()

    def _finish_draining(self) -> None:
        for instance in list(self.instances.values()):
            if instance.status != "Draining":
                continue
            waited = time.monotonic() - instance.drain_since
            # out of the routes for a moment first, so no request can still be on its way to it
            if (instance.backend.in_flight == 0 and waited > DRAIN_GRACE_SECONDS) or waited > DRAIN_SECONDS:
                self._stop(instance)
                del self.instances[instance.instance_id]

    def _stop(self, instance: Instance) -> None:
        instance.backend.upstream.close()
        if instance.process.poll() is None:
            instance.process.terminate()
            try:
                instance.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()

    # -- routes --------------------------------------------------------------------------------------------

    def _in_service(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for instance in list(self.instances.values()):
            if instance.status == "InService":
                counts[(instance.endpoint, instance.variant)] = counts.get((instance.endpoint, instance.variant),
                                                                           0) + 1
        return counts

    def _build_routes(self, rows: list[EndpointRow], wanted: dict[str, list[Deployment]],
                      promoted: str | None = None) -> None:
        """The front's routes: each endpoint's current configuration, or its update's when ``promoted`` names
        it (its instances are in service and the promotion is being written)."""
        routes: dict[str, Route] = {}
        for row in rows:
            serving = wanted[row.name][-1] if row.name == promoted else next(
                (d for d in reversed(wanted[row.name]) if d.generation != row.generation
                 or row.pending_config is None), None)
            if serving is None:
                continue
            backends: dict[str, list[Backend]] = {}
            for instance in self._mine(row.name, serving.generation):
                if instance.status == "InService":
                    backends.setdefault(instance.variant, []).append(instance.backend)
            production = [VariantRoute(s["variant_name"], float(s["desired_weight"]),
                                       backends.get(s["variant_name"], []))
                          for s in serving.states if not s.get("shadow")]
            shadows = [s for s in serving.states if s.get("shadow")]
            shadow, share = None, 0.0
            if shadows:
                state = shadows[0]
                shadow = VariantRoute(state["variant_name"], float(state["desired_weight"]),
                                      backends.get(state["variant_name"], []))
                total = sum(v.weight for v in production) or 1.0
                share = min(1.0, shadow.weight / total)
            config = serving.deployed.capture
            capture = None
            if config is not None and config.enable_capture:
                modes = {o.capture_mode for o in config.capture_options}
                header = config.capture_content_type_header
                capture = Capture(config.initial_sampling_percentage, bool(modes & {"Input", "InputAndOutput"}),
                                  bool(modes & {"Output", "InputAndOutput"}),
                                  frozenset(header.csv_content_types) if header else frozenset(),
                                  frozenset(header.json_content_types) if header else frozenset())
                self.capture_prefix[row.name] = config.destination_s3_uri
            routes[row.name] = Route(row.name, production, shadow, share, capture)
        self.routes = routes

    def _write_instances(self) -> None:
        snapshot = sorted((i.instance_id, i.endpoint, i.generation, i.config_name, i.variant, i.status,
                           i.process.pid, i.port, i.restarts) for i in self.instances.values())
        failures = dict(self.failures)
        if (snapshot, failures) == self.written:
            return
        now = self.service.clock.now()

        def write(session: Session) -> None:
            session.execute(delete(InstanceRow))
            session.add_all(InstanceRow(instance_id=i, endpoint=e, generation=g, config_name=c, variant=v, status=s,
                                        pid=p, port=port, restarts=r, started_at=now)
                            for i, e, g, c, v, s, p, port, r in snapshot)
        self.service.db.transact(write)
        self.written = (snapshot, failures)

    # -- publishing ---------------------------------------------------------------------------------------

    def _take_windows(self) -> dict[tuple[str, str], Any]:
        """The front's metric windows, swapped on its own thread (it adds to them without a lock)."""
        loop = self.loop
        now = time.monotonic()
        if loop is None or loop.is_closed():
            return self.meter.take(now)

        async def take() -> dict[tuple[str, str], Any]:
            return self.meter.take(now)
        try:
            return asyncio.run_coroutine_threadsafe(take(), loop).result(timeout=5)
        except Exception:
            return self.meter.take(now)

    def _publish(self) -> None:
        from crispml.services.monitoring.service import MetricDatum, MonitoringService, PutMetricDataRequest

        windows = self._take_windows()
        data = [MetricDatum.model_validate(d) for d in datums(windows, self._in_service())]
        monitoring = self.service.peer(MonitoringService)
        ctx = CallContext(principal=self.settings.principal, source="serving-runtime")
        for start in range(0, len(data), 1000):
            monitoring.put_metric_data(ctx, PutMetricDataRequest(namespace=NAMESPACE,
                                                                 metric_data=data[start:start + 1000]))
        calls, self.invocations = self.invocations, []
        if calls:
            from crispml.services.serving.runtime.audit import record_invocations

            record_invocations(self.service, calls, self.principals, self.settings.principal)

    def _deliver_capture(self) -> None:
        from crispml.services.lake.service import LakeService

        fs_by_principal: dict[str, Any] = {}

        def put(uri: str, data: bytes) -> None:  # written as the endpoint's owner
            principal = self._owner_of(uri)
            fs = fs_by_principal.get(principal)
            if fs is None:
                ctx = CallContext(principal=principal, source="serving-runtime")
                fs = fs_by_principal[principal] = self.service.peer(LakeService).filesystem(ctx)
            fs.pipe_file(uri, data)

        self.spool.deliver(self._capture_destination, put)

    def _capture_destination(self, endpoint: str) -> str | None:
        prefix = self.capture_prefix.get(endpoint)
        if prefix is not None:
            return prefix
        with self.service.db.read() as session:
            row = session.get(EndpointRow, endpoint)
            if row is None:
                return None
            capture = Deployed(row.definition).capture
        return capture.destination_s3_uri if capture is not None else None

    def _owner_of(self, uri: str) -> str:
        for endpoint, prefix in self.capture_prefix.items():
            if uri.startswith(f"{prefix}{endpoint}/"):
                return self.principals.get(endpoint, self.settings.principal)
        return self.settings.principal


def _ping(port: int, timeout: float = 2.0) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _is_instance(pid: int) -> bool:
    try:
        return INSTANCE_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
