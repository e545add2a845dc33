"""The local executor: drives one training job in a worker process, from its data to its artifacts.

A worker (``python -m crispml.jobworker``, started by CreateTrainingJob, or a
warm one kept from an earlier job) calls :meth:`Driver.drive` with a job's
name. It lays out the job's ``/opt/ml`` (``layout.py``), brings in each
channel's pinned data (``channels.py``), the script's source directory and
any checkpoints (secondary status ``Downloading``), then forks the job's own
process (``container.py``, ``Training``) and watches it until it ends:

- the job runs on cores of its own where there are enough (``cores.py``);
- every line the job prints goes to CloudWatch Logs and through the metric
  definitions (``logsink.py``);
- ``MaxRuntimeInSeconds`` is enforced from the start of training: the job is
  sent SIGTERM, then SIGKILL after a grace period (``process.py``), and ends
  ``Stopped`` with secondary status ``MaxRuntimeExceeded``, as on SageMaker;
- the memory limit is enforced by sampling the resident memory of the job's
  processes every :data:`TICK_SECONDS` (the standard library and the kernel
  offer no per-job limit an unprivileged process can set that counts only
  resident memory): over the limit, the job is killed and ends ``Failed``
  naming the limit and the peak reached;
- a StopTrainingJob (status ``Stopping``, seen within a poll) stops it the
  same way; it ends ``Stopped``, its model uploaded if it saved one;
- checkpoints written to its checkpoint folder are copied to
  ``CheckpointConfig.S3Uri`` as they appear, so a job resumed after its worker
  died continues from them.

Then ``Uploading``: ``model/`` becomes ``<S3OutputPath><job>/output/model.tar.gz``
and ``output/data/`` ``output.tar.gz``, as SageMaker writes them; the job ends
``Completed``, or ``Failed`` with the reason its process left in
``output/failure`` (a traceback's tail), or its exit status. The worker holds
no thread while it forks: it reads the job's output with ``select`` in one
loop, so the forked process starts from a clean, single-threaded copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.owners import process_owner
from crispml.services.lake.service import LakeService
from crispml.services.training import channels as channel_data
from crispml.services.training import cores, ends
from crispml.services.training.core import awaiting_worker, definition_of, move
from crispml.services.training.entities import ACTIVE, Lineage
from crispml.services.training.frameworks import decode
from crispml.services.training.layout import HOST, Layout
from crispml.services.training.logsink import LogSink, Scraper
from crispml.services.training.process import Outcome, Watch, start
from crispml.services.training.store import TrainingJobRow

if TYPE_CHECKING:
    from crispml.services.training.service import TrainingService
    from crispml.services.training.specs import CreateTrainingJobRequest

#: How often the worker looks at the job's output, memory and clock.
TICK_SECONDS = 0.05
#: How often it sends log lines and metrics, checks for a stop, and beats.
FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
CHECKPOINT_SYNC_SECONDS = 2.0
def cpus_of(request: CreateTrainingJobRequest) -> int:
    available = len(os.sched_getaffinity(0))
    return min(request.resource_config.cpus or available, available)


class Driver:
    """Runs one job to its end in this worker process (see the module docstring)."""

    def __init__(self, service: TrainingService, name: str) -> None:
        self.service = service
        self.name = name
        self.settings_home = service.runtime.settings.home

    # -- the whole job -----------------------------------------------------------------------------

    def drive(self) -> Outcome | None:
        """Run the job to its end; its outcome, or None if it was not this worker's to run (see :meth:`_start`)."""
        owner = process_owner()
        row = self._start(owner)
        if row is None:
            return None
        request = definition_of(row)
        ctx = CallContext(principal=row.principal, source="training-job")
        layout = Layout(self.settings_home / "training" / "jobs" / self.name)
        lineage = Lineage.model_validate_json(row.lineage)
        sink = LogSink(self.service, ctx, self.name, row.log_stream or f"{self.name}/{HOST}-{int(time.time())}",
                       Scraper.of(self._definitions(request)))
        try:
            self._prepare(ctx, request, lineage, layout, sink)
        except CrispmlError as exc:
            return self._end(Outcome("Failed", "Failed", f"{type(exc).__name__}: {exc}"), sink, ctx, request,
                             layout, upload=False)
        except Exception as exc:
            return self._end(Outcome("Failed", "Failed", f"preparing the job failed: {type(exc).__name__}: {exc}"),
                             sink, ctx, request, layout, upload=False)
        if self._stopping():
            return self._end(Outcome("Stopped", "Stopped"), sink, ctx, request, layout, upload=False)
        self._move("Training", "Training image download completed. Training in progress.")
        outcome = self._train(ctx, request, layout, sink)
        return self._end(outcome, sink, ctx, request, layout, upload=True)

    def _start(self, owner: str) -> TrainingJobRow | None:
        """Take the job over, if it still awaits a worker: not if it has ended, nor if another worker has
        taken it (it was handed out again when the process handing it to this one died first)."""
        def change(row: TrainingJobRow, now: datetime) -> TrainingJobRow | None:
            if row.status not in ACTIVE or not awaiting_worker(row):
                return None
            row.owner = owner
            row.heartbeat_at = now
            row.attempts += 1
            row.started_at = row.started_at or now
            if row.log_stream is None:
                row.log_stream = f"{row.name}/{HOST}-{int(now.timestamp())}"
            move(row, "Downloading", "Downloading input data", now)
            return row
        return self.service._update(self.name, change)  # type: ignore[no-any-return]

    def _move(self, secondary: str, message: str) -> None:
        self.service._update(self.name, lambda row, now: move(row, secondary, message, now))

    def _stopping(self) -> bool:
        """Whether StopTrainingJob has asked this job to stop (a read: polled every flush)."""
        with self.service._reading() as session:
            return self.service._job(session, self.name).status == "Stopping"

    def _beat(self) -> None:
        """Record that this worker still drives the job."""
        self.service._update(self.name, lambda row, now: setattr(row, "heartbeat_at", now))

    @staticmethod
    def _definitions(request: CreateTrainingJobRequest) -> list[tuple[str, str]]:
        spec = request.algorithm_specification
        own = [(d.name, d.regex) for d in spec.metric_definitions]
        if spec.algorithm_name is None:
            return own
        from crispml.services.training import algorithms

        return [*algorithms.get(spec.algorithm_name).metric_definitions, *own]

    # -- Downloading ---------------------------------------------------------------------------------

    def _prepare(self, ctx: CallContext, request: CreateTrainingJobRequest, lineage: Lineage, layout: Layout,
                 sink: LogSink) -> None:
        shutil.rmtree(layout.root, ignore_errors=True)
        layout.make(checkpoints=request.checkpoint_config is not None)
        mode = request.algorithm_specification.training_input_mode
        config = {c.channel_name: {"ContentType": c.content_type, "TrainingInputMode": c.input_mode or mode,
                                   "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
                  for c in request.input_data_config}
        layout.hyperparameters_file.write_text(json.dumps(request.hyper_parameters))
        layout.inputdataconfig_file.write_text(json.dumps(config))
        layout.resourceconfig_file.write_text(json.dumps({
            "current_host": HOST, "hosts": [HOST], "current_instance_type": request.resource_config.instance_type,
            "current_group_name": "homogeneousCluster", "network_interface_name": "lo"}))
        if request.cross_validation is not None:
            cv = request.cross_validation
            layout.crossvalidation_file.write_text(json.dumps({
                "Strategy": cv.strategy, "Folds": cv.folds, "Shuffle": cv.shuffle, "Seed": cv.seed,
                "GroupColumn": cv.group_column}))
        pinned = {c.channel_name: c for c in lineage.channels}
        started = time.perf_counter()
        copied = 0
        for channel in request.input_data_config:
            copied += channel_data.materialize(self.service, ctx, channel, pinned[channel.channel_name],
                                               layout.channel_dir(channel.channel_name),
                                               channel.input_mode or mode)
        if any(c.data_source.catalog_data_source is not None for c in request.input_data_config):
            self.service._update(self.name, lambda row, now: setattr(row, "lineage", lineage.model_dump_json()))
        sink.add(f"Downloaded {len(request.input_data_config)} channel(s) ({copied:,} bytes copied) in "
                 f"{time.perf_counter() - started:.2f}s", self.service.clock.now())
        submit = request.hyper_parameters.get("sagemaker_submit_directory")
        if request.algorithm_specification.training_image is not None and submit:
            self._unpack_source(ctx, decode(submit), layout)
        if request.checkpoint_config is not None:
            self._restore_checkpoints(ctx, request.checkpoint_config.s3_uri, layout, sink)

    def _unpack_source(self, ctx: CallContext, uri: str, layout: Layout) -> None:
        fs = self.service.peer(LakeService).filesystem(ctx)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "sourcedir.tar.gz"
            fs.get_file(uri, str(local))
            with tarfile.open(local) as archive:
                archive.extractall(layout.code_dir, filter="data")

    def _restore_checkpoints(self, ctx: CallContext, uri: str, layout: Layout, sink: LogSink) -> None:
        files = channel_data.list_prefix(self.service, ctx, uri)
        if not files:
            return
        fs = self.service.peer(LakeService).filesystem(ctx)
        for f in files:
            target = layout.checkpoint_dir / f.uri[len(uri):]
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f.uri, str(target))
        sink.add(f"Restored {len(files)} checkpoint file(s) from {uri}", self.service.clock.now())

    # -- Training ------------------------------------------------------------------------------------

    def _train(self, ctx: CallContext, request: CreateTrainingJobRequest, layout: Layout,
               sink: LogSink) -> Outcome:
        taken = cores.take(self.settings_home, cpus_of(request))  # given back when the job's process has ended
        try:
            return self._watch(ctx, request, layout, sink, taken.cores)
        finally:
            taken.release()

    def _watch(self, ctx: CallContext, request: CreateTrainingJobRequest, layout: Layout, sink: LogSink,
               on: list[int]) -> Outcome:
        limit_mb = request.resource_config.memory_limit_in_mb
        pid, read_end = start(layout, request, on)
        watch = Watch(pid, time.monotonic(), request.stopping_condition.max_runtime_in_seconds, limit_mb)
        pending = b""
        last_flush = last_beat = last_sync = time.monotonic()
        synced: dict[str, tuple[float, int]] = {}
        open_pipe = True
        while True:
            if open_pipe:
                ready, _, _ = select.select([read_end], [], [], TICK_SECONDS)
                if ready:
                    chunk = os.read(read_end, 65536)
                    if not chunk:
                        open_pipe = False
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    now = self.service.clock.now()
                    for line in lines:
                        sink.add(line.decode("utf-8", "replace"), now)
            else:
                time.sleep(TICK_SECONDS)
            if watch.poll():
                break
            now_mono = time.monotonic()
            watch.check_limits(now_mono)
            if now_mono - last_flush >= FLUSH_SECONDS:
                last_flush = now_mono
                self._flush(sink)
                if watch.stop_reason is None and self._stopping():
                    watch.stop("stopped", now_mono)
            if now_mono - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now_mono
                self._beat()
            if request.checkpoint_config is not None and now_mono - last_sync >= CHECKPOINT_SYNC_SECONDS:
                last_sync = now_mono
                self._sync_checkpoints(ctx, request.checkpoint_config.s3_uri, layout, synced)
        while open_pipe and select.select([read_end], [], [], 0)[0]:  # what the process wrote before it ended
            chunk = os.read(read_end, 65536)
            open_pipe = bool(chunk)
            pending += chunk
        os.close(read_end)
        now = self.service.clock.now()
        for line in pending.split(b"\n"):
            if line:
                sink.add(line.decode("utf-8", "replace"), now)
        if request.checkpoint_config is not None:
            self._sync_checkpoints(ctx, request.checkpoint_config.s3_uri, layout, synced)
        return watch.outcome(layout)

    def _flush(self, sink: LogSink) -> None:
        try:
            sink.flush()
        except CrispmlError as exc:  # the metadata DB was briefly unreachable: the next flush sends them
            print(f"crispml worker: logs not sent yet: {exc}", file=sys.stderr)

    def _sync_checkpoints(self, ctx: CallContext, uri: str, layout: Layout,
                          synced: dict[str, tuple[float, int]]) -> None:
        """Mirror the checkpoint folder to ``uri``: new and changed files copied, removed ones removed (hidden
        files, a writer's temporaries, left out)."""
        fs = None
        present: set[str] = set()
        for path in sorted(layout.checkpoint_dir.rglob("*")):
            relative = str(path.relative_to(layout.checkpoint_dir))
            if not path.is_file() or any(part.startswith(".") for part in Path(relative).parts):
                continue
            present.add(relative)
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed by the job just now
                continue
            if synced.get(relative) == (stat.st_mtime, stat.st_size):
                continue
            fs = fs or self.service.peer(LakeService).filesystem(ctx)
            fs.put_file(str(path), uri + relative)
            synced[relative] = (stat.st_mtime, stat.st_size)
        for relative in sorted(set(synced) - present):
            fs = fs or self.service.peer(LakeService).filesystem(ctx)
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(uri + relative)
            del synced[relative]

    # -- Uploading and the end ----------------------------------------------------------------------

    def _end(self, outcome: Outcome, sink: LogSink, ctx: CallContext, request: CreateTrainingJobRequest,
             layout: Layout, *, upload: bool) -> Outcome:
        artifacts = None
        cv_results = None
        if upload and outcome.status != "Failed":  # Completed, or Stopped: a stopped job keeps its model
            try:
                self._move("Uploading", "Uploading generated training model")
                artifacts = self._upload(ctx, request, layout)
                cv_file = layout.output_data_dir / "cross_validation.json"
                if cv_file.is_file():
                    cv_results = _cv_results(json.loads(cv_file.read_text()))
            except CrispmlError as exc:
                outcome = Outcome("Failed", "Failed", f"uploading the model failed: {exc}", outcome.peak_mb)
        elif upload:
            with contextlib.suppress(CrispmlError):
                self._upload(ctx, request, layout, model=False)
        if outcome.status == "Completed" and not (layout.model_dir.exists() and any(layout.model_dir.iterdir())):
            sink.add("Warning: the job left nothing in its model directory (SM_MODEL_DIR)", self.service.clock.now())
        if outcome.reason:
            sink.add(f"{outcome.status}: {outcome.reason}", self.service.clock.now())
        self._flush(sink)
        final = [{"metric_name": name, "value": value, "timestamp": at.isoformat()}
                 for name, (value, at) in sink.scraper.last.items()]

        def change(row: TrainingJobRow, now: datetime) -> None:
            row.failure_reason = outcome.reason if outcome.status == "Failed" else None
            row.model_artifacts = artifacts
            row.final_metrics = json.dumps(final)
            row.cross_validation_results = cv_results
            row.peak_memory_mb = round(outcome.peak_mb, 1) if outcome.peak_mb else None
            row.ended_at = now
            row.heartbeat_at = now
            message = {"Completed": "Training job completed", "Stopped": "Training job stopped",
                       "MaxRuntimeExceeded": "Training job stopped: MaxRuntimeInSeconds reached"}.get(
                outcome.secondary, outcome.reason or "Training job failed")
            move(row, outcome.secondary, message, now, status=outcome.status)
        self.service._update(self.name, change)
        ends.announce(self.settings_home, self.name)
        return outcome

    def _upload(self, ctx: CallContext, request: CreateTrainingJobRequest, layout: Layout, *,
                model: bool = True) -> str | None:
        fs = self.service.peer(LakeService).filesystem(ctx)
        base = f"{request.output_data_config.s3_output_path}{self.name}/output/"
        with tempfile.TemporaryDirectory() as tmp:
            uploaded = None
            if model:
                archive = _tar(layout.model_dir, Path(tmp) / "model.tar.gz")
                fs.put_file(str(archive), base + "model.tar.gz")
                uploaded = base + "model.tar.gz"
            extra = layout.output_data_dir
            if layout.failure_file.exists():
                shutil.copy(layout.failure_file, extra / "failure")
            output = _tar(extra, Path(tmp) / "output.tar.gz")
            fs.put_file(str(output), base + "output.tar.gz")
        return uploaded


def _tar(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return target


def _cv_results(document: dict[str, Any]) -> str:
    from crispml.services.training.entities import CrossValidationResults

    return CrossValidationResults.model_validate({
        "strategy": document["Strategy"],
        "folds": [{"fold": f["Fold"], "metrics": f["Metrics"]} for f in document["Folds"]],
        "summary": {name: {"mean": s["Mean"], "standard_deviation": s["StandardDeviation"]}
                    for name, s in document["Summary"].items()},
    }).model_dump_json()
