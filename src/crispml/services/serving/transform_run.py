"""A batch transform job's run, in its worker process (``python -m crispml.transformworker JOB``).

The worker takes the job over (its ``owner``), fetches the model as the
job's creator (the registry's container, unpacked under
``<home>/serving/transform/<job>/model``, removed at the end; the instances'
logs stay beside it), and starts ``InstanceCount`` instance
processes (``runtime/instance.py``: the model over the container contract,
each on a socket bound here), which exit if the worker dies. When every one
answers ``GET /ping`` it runs, on one asyncio loop:

- a **producer** reading the input files in order (or the catalog table's
  rows, read as the job's creator when the job starts), cutting each into
  mini-batches (``transform_records.py``) and queueing them — at most two per
  request slot, so only the files being transformed are in memory;
- ``MaxConcurrentTransforms × InstanceCount`` **senders**, each bound to one
  instance over a kept-alive connection (``runtime/upstream.py``), POSTing
  ``/invocations``; a request that fails to connect, times out
  (``InvocationsTimeoutInSeconds``) or gets a 5xx is sent again up to
  ``InvocationsMaxRetries`` times; a 4xx, or a request still failing, fails
  the job with the model's own words;
- when a file's last answer arrives, its **output** is assembled in input
  order and written to the lake (one file at a time);
- a **watch** every half second: the job's progress and heartbeat to its
  row, the row's status (``Stopping``: every task is cancelled, the
  instances stopped, the job ``Stopped``), and the instances' processes (one
  that exited fails the job with its last words).

Not here: sharding inputs between instances by key (``ShardedByS3Key``:
every request goes to whichever sender is free), resuming a job whose worker
died (it ends ``Failed``, as SageMaker's would).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.owners import process_owner
from crispml.services.lake.service import LakeService
from crispml.services.registry.service import RegistryService
from crispml.services.serving import jsonpath
from crispml.services.serving.runtime import instance
from crispml.services.serving.runtime.upstream import Reply, Upstream, UpstreamError
from crispml.services.serving.store import TransformJobRow
from crispml.services.serving.transform_records import (
    Batch,
    TransformError,
    assemble,
    batches,
    filtered,
    input_table,
    joined_text,
    parquet,
    per_record,
    records_of,
    table_records,
    whole,
)
from crispml.services.serving.transform_specs import ACTIVE, CSV, CreateTransformJobRequest, base_type, definition_of

if TYPE_CHECKING:
    import pyarrow as pa

    from crispml.services.serving.transform import TransformOps

#: Seconds between two looks at the job's row (its stop, progress and heartbeat).
WATCH_SECONDS = 0.5
#: Longest wait for the instances to answer ``/ping`` (SageMaker's container start-up limit).
START_SECONDS = 600.0
#: Time a stopped instance has between SIGTERM and SIGKILL.
STOP_GRACE_SECONDS = 5.0


class JobStopped(Exception):
    """StopTransformJob asked this job to stop."""


@dataclass
class Started:
    """One instance process of the job."""

    number: int
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def last_words(self) -> str:
        """The instance's last 'crispml instance:' line, else its exit status and last lines."""
        return instance.last_words(self.log, self.process.returncode)


@dataclass(eq=False)
class FileWork:
    """One input (a file, or the table) on its way through the job."""

    name: str
    uri: str | None
    records: list[bytes] = field(default_factory=list)  # kept when the output is assembled record by record
    table: pa.Table | None = None
    batches: list[Batch] = field(default_factory=list)
    answers: list[Reply | None] = field(default_factory=list)
    pending: int = 0


class TransformRun:
    """Runs one transform job to its end in this worker process (see the module docstring)."""

    def __init__(self, service: TransformOps, name: str) -> None:
        self.service = service
        self.name = name
        self.folder = service.runtime.settings.home / "serving" / "transform" / name
        self.instances: list[Started] = []
        self.progress: dict[str, Any] = {}
        self.ctx = CallContext(principal="", source="transform-job")
        self.request: CreateTransformJobRequest | None = None
        self.inputs: list[dict[str, Any]] = []

    @property
    def job(self) -> CreateTransformJobRequest:
        assert self.request is not None
        return self.request

    # -- the whole job -------------------------------------------------------------------------------------

    def run(self) -> None:
        if not self._begin():
            return
        status: str = "Failed"
        reason: str | None = "the transform worker was interrupted"  # unless an outcome below is reached
        try:
            self._start_instances()
            asyncio.run(self._transform())
            status, reason = "Completed", None
        except JobStopped:
            status, reason = "Stopped", None
        except TransformError as exc:
            status, reason = "Failed", str(exc)
        except CrispmlError as exc:
            status, reason = "Failed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            status, reason = "Failed", f"the transform worker failed: {type(exc).__name__}: {exc}"
        finally:
            self.progress["instances"] = []
            try:
                self.service._end_transform(self.name, status, reason, self.progress)
            finally:  # after the end is recorded: TransformEndTime is when the last output was written
                self._stop_instances()
                shutil.rmtree(self.folder / "model", ignore_errors=True)

    def _begin(self) -> bool:
        """Take the job over; False when there is nothing to run (it ended, or was stopped before it began)."""
        owner = process_owner()

        def change(row: TransformJobRow, now: datetime) -> tuple[str, str, str]:
            if row.status == "InProgress":
                row.owner, row.heartbeat_at = owner, now
                row.started_at = row.started_at or now
                row.modified_at = now
            return row.status, row.principal, row.inputs
        status, principal, inputs = self.service._update_transform(self.name, change)
        if status == "Stopping":
            self.service._end_transform(self.name, "Stopped", None)
        if status != "InProgress":
            return False
        with self.service._reading() as session:
            self.request = definition_of(self.service._transform_job(session, self.name))
        self.ctx = CallContext(principal=principal, source="transform-job")
        self.inputs = json.loads(inputs)
        self.progress = {"input_files": len(self.inputs), "files_completed": 0, "records_completed": 0,
                         "requests_sent": 0, "instances": []}
        return True

    # -- instances -----------------------------------------------------------------------------------------

    def _start_instances(self) -> None:
        registry = self.service.peer(RegistryService)
        image, url, environment, _ = registry.container_of(self.ctx, self.job.model_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        model_dir, code_dir = registry.unpack_container(self.ctx, url, environment, self.folder / "model")
        description = {"image": image, "model_dir": str(model_dir), "code_dir": str(code_dir) if code_dir else None,
                       "environment": {**environment, **self.job.environment}}
        count = self.job.transform_resources.instance_count
        threads = {"OMP_NUM_THREADS": str(max(1, len(os.sched_getaffinity(0)) // count)),
                   "OMP_WAIT_POLICY": "PASSIVE", **self.job.environment}
        for number in range(1, count + 1):
            log = self.folder / f"instance-{number}.log"
            process, port = instance.start(description, log, threads)
            self.instances.append(Started(number, process, port, log))
        self.progress["instances"] = [{"pid": i.process.pid, "address": f"http://127.0.0.1:{i.port}"}
                                      for i in self.instances]
        deadline = time.monotonic() + START_SECONDS
        waiting = list(self.instances)
        looked = 0.0
        while waiting:
            for started in list(waiting):
                if started.process.poll() is not None:
                    raise TransformError(f"instance {started.number} did not start: {started.last_words()}")
                if _ping(started.port):
                    waiting.remove(started)
            if time.monotonic() > deadline:
                raise TransformError(f"{len(waiting)} instance(s) did not answer GET /ping within "
                                     f"{START_SECONDS:.0f} s")
            if time.monotonic() - looked >= WATCH_SECONDS:
                looked = time.monotonic()
                if self._look() == "Stopping":
                    raise JobStopped
            if waiting:
                time.sleep(0.02)
        self.progress["instances_ready_time"] = self.service.clock.now().isoformat()

    def _stop_instances(self) -> None:
        for started in self.instances:
            if started.process.poll() is None:
                started.process.terminate()
        for started in self.instances:
            try:
                started.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()

    def _look(self) -> str:
        """Write the progress and the heartbeat; the job's status."""
        progress = json.dumps(self.progress)

        def change(row: TransformJobRow, now: datetime) -> str:
            if row.status in ACTIVE:
                row.progress, row.heartbeat_at = progress, now
            return row.status
        return str(self.service._update_transform(self.name, change))

    # -- the transform ----------------------------------------------------------------------------------

    async def _transform(self) -> None:
        work = asyncio.create_task(self._work())
        watch = asyncio.create_task(self._watch())
        done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        loser = watch if work in done else work
        loser.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loser
        (work if work in done else watch).result()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for started in self.instances:
                if started.process.poll() is not None:
                    raise TransformError(f"instance {started.number} stopped during the job: {started.last_words()}")
            if await asyncio.to_thread(self._look) == "Stopping":
                raise JobStopped

    async def _work(self) -> None:
        senders = (self.job.max_concurrent_transforms or 1) * len(self.instances)
        queue: asyncio.Queue[tuple[FileWork, int] | None] = asyncio.Queue(maxsize=2 * senders)
        writing = asyncio.Lock()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._produce(queue, senders, group, writing))
                for slot in range(senders):
                    port = self.instances[slot % len(self.instances)].port
                    group.create_task(self._send(queue, Upstream(port), group, writing))
        except BaseExceptionGroup as failures:
            raise _first(failures) from None

    async def _produce(self, queue: asyncio.Queue[tuple[FileWork, int] | None], senders: int,
                       group: asyncio.TaskGroup, writing: asyncio.Lock) -> None:
        for source in self.inputs:
            work = await asyncio.to_thread(self._cut, source)
            work.pending = len(work.batches)
            work.answers = [None] * len(work.batches)
            if not work.batches:
                group.create_task(self._finish(work, writing))
            for index in range(len(work.batches)):
                await queue.put((work, index))
        for _ in range(senders):
            await queue.put(None)

    async def _send(self, queue: asyncio.Queue[tuple[FileWork, int] | None], upstream: Upstream,
                    group: asyncio.TaskGroup, writing: asyncio.Lock) -> None:
        try:
            while (item := await queue.get()) is not None:
                work, index = item
                batch = work.batches[index]
                work.answers[index] = await self._invoke(upstream, batch, work)
                self.progress["records_completed"] += batch.count
                self.progress["requests_sent"] += 1
                work.pending -= 1
                if work.pending == 0:
                    group.create_task(self._finish(work, writing))
        finally:
            upstream.close()

    async def _invoke(self, upstream: Upstream, batch: Batch, work: FileWork) -> Reply:
        config = self.job.model_client_config
        timeout = float(config.invocations_timeout_in_seconds) if config else 600.0
        attempts = 1 + (config.invocations_max_retries if config else 3)
        headers = [(b"content-type", (self.job.transform_input.content_type or CSV).encode("latin-1")),
                   (b"accept", (self.job.transform_output.accept or "*/*").encode("latin-1"))]
        problem = ""
        for _ in range(attempts):
            try:
                reply = await upstream.request(b"POST", b"/invocations", headers, batch.payload, timeout=timeout)
            except UpstreamError as exc:
                problem = str(exc)
                continue
            if reply.status == 200:
                return reply
            said = reply.body.decode(errors="replace").strip()[:1500]
            problem = f"the model answered {reply.status}: {said}"
            if reply.status < 500:
                break
        raise TransformError(f"a request of {batch.count} record(s) from {_where(work)} (from record "
                             f"{batch.first + 1}) failed: {problem}")

    async def _finish(self, work: FileWork, writing: asyncio.Lock) -> None:
        async with writing:
            await asyncio.to_thread(self._write, work)
        self.progress["files_completed"] += 1
        work.records, work.batches, work.answers, work.table = [], [], [], None

    # -- files (in threads) ------------------------------------------------------------------------------

    def _cut(self, source: dict[str, Any]) -> FileWork:
        """Read one input and cut it into mini-batches."""
        job = self.job
        work = FileWork(name=str(source["name"]), uri=source.get("uri"))
        kind = base_type(job.transform_input.content_type)
        megabytes = job.max_payload_in_mb
        limit = megabytes * 1024 * 1024 if megabytes else None
        by_line = job.transform_input.split_type == "Line"
        if work.uri is None:
            work.table = self._table()
            records = table_records(work.table, kind)
            data = b"".join(r + b"\n" for r in records) if not by_line else b""
        else:
            data = self._read(work.uri)
            records = records_of(data) if by_line else []
        if not by_line:  # the whole input as one request
            work.batches = [whole(data, limit, _where(work))]
            return work
        processing = job.processing
        if processing.active or job.transform_output.output_format == "Parquet":
            work.records = records
        sent = filtered(records, jsonpath.parse(processing.input_filter, "InputFilter"), kind, _where(work))
        work.batches = list(batches(sent, single=job.batch_strategy == "SingleRecord", limit=limit,
                                    where=_where(work)))
        return work

    def _read(self, uri: str) -> bytes:
        fs = self.service.peer(LakeService).filesystem(self.ctx)
        try:
            data = bytes(fs.cat_file(uri))
        except FileNotFoundError:
            raise TransformError(f"the input file {uri} is gone (it was there when the job was created)") from None
        if self.job.transform_input.compression_type == "Gzip":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise TransformError(f"{uri} is not gzip data (CompressionType Gzip): {exc}") from None
        return data

    def _table(self) -> pa.Table:
        from crispml.services.training.service import CatalogDataSource, Channel, DataSource, TrainingService

        spec = self.job.transform_input.data_source.catalog_data_source
        assert spec is not None
        channel = Channel(channel_name="transform", data_source=DataSource(catalog_data_source=CatalogDataSource(
            database_name=spec.database_name, table_name=spec.table_name)))
        table, _ = self.service.peer(TrainingService).channel_rows(self.ctx, channel)
        return table

    def _write(self, work: FileWork) -> None:
        job = self.job
        output = job.transform_output
        processing = job.processing
        replies = [r for r in work.answers if r is not None]
        parquet_output = output.output_format == "Parquet"
        uri = f"{output.s3_output_path}{work.name}{'.parquet' if parquet_output else '.out'}"
        if not parquet_output and not processing.active:
            data = assemble([r.body for r in replies], output.assemble_with == "Line")
        else:
            answer_type = next((r.headers.get(b"content-type", b"").decode("latin-1") for r in replies),
                               output.accept or CSV)
            answers: list[bytes] = []
            for batch, reply in zip(work.batches, replies, strict=True):
                answers += per_record(reply.body, answer_type, batch.count, _where(work))
            kind = base_type(job.transform_input.content_type)
            join = processing.join_source == "Input"
            out_filter = jsonpath.parse(processing.output_filter, "OutputFilter")
            if parquet_output:
                inputs = (work.table if work.table is not None else input_table(work.records, kind)) if join \
                    else None
                data = parquet(answers, answer_type, inputs, out_filter, positional=kind == CSV)
            else:
                data = joined_text(work.records, answers, answer_type, kind, out_filter, join)
        self.service.peer(LakeService).filesystem(self.ctx).pipe_file(uri, data)


def _where(work: FileWork) -> str:
    return work.uri or f"table {work.name}"


def _first(failures: BaseExceptionGroup[Any]) -> BaseException:
    """The failure to report of several tasks': a stop, else the job's own failure, else the first."""
    leaves: list[BaseException] = []

    def walk(group: BaseExceptionGroup[Any]) -> None:
        for exc in group.exceptions:
            walk(exc) if isinstance(exc, BaseExceptionGroup) else leaves.append(exc)
    walk(failures)
    for kind in (JobStopped, TransformError, CrispmlError):
        for exc in leaves:
            if isinstance(exc, kind):
                return exc
    return leaves[0]


def _ping(port: int) -> bool:
    """Whether the instance on ``port`` answers ``GET /ping`` (briefly: one still loading its model has not
    begun serving its socket, and the start-up loop also watches for a stop)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
