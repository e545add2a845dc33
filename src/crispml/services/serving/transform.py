"""Batch transform operations (SageMaker ``CreateTransformJob``, ``DescribeTransformJob``,
``ListTransformJobs``, ``StopTransformJob``).

``CreateTransformJob`` checks what it can before anything is recorded, as
SageMaker validates a request: the name is free, the model exists and may be
deployed (not a rejected version), there are CPUs for the instances, the
output's bucket exists, and there is input — the objects under the prefix (or
in the manifest) are listed then, and the job transforms exactly those; a
catalog table is read when the job runs. Then the job is recorded
``InProgress`` and handed to a worker process (``python -m
crispml.transformworker JOB``, which runs ``transform_run.py``); the call
returns its ARN at once and DescribeTransformJob follows it.

``StopTransformJob`` moves the job to ``Stopping``; its worker sees that
within half a second, stops its instances and ends it ``Stopped`` (outputs
already written stay). A job records its worker (``owner``) and a
heartbeat: an operation that reads a job ``InProgress`` or ``Stopping`` whose
worker is gone — on this host by its pid, elsewhere by a heartbeat older
than :data:`STALE_AFTER` — ends it ``Failed`` (``Stopped`` if it was being
stopped), saying so; its instances exited with the worker.
"""

from __future__ import annotations

import difflib
import json
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import forkserver, paging
from crispml.core.config import settings_environment
from crispml.core.context import CallContext
from crispml.core.errors import AlreadyExists, Conflict, NotFound
from crispml.core.metadb.listing import job_filters
from crispml.core.names import crn
from crispml.core.owners import owner_alive, process_owner
from crispml.services.catalog.service import CatalogService, TableRequest
from crispml.services.lake.service import BucketRequest, LakeService, ListObjectsV2Request
from crispml.services.registry.service import ModelRequest, RegistryService
from crispml.services.serving.core import PREFIX
from crispml.services.serving.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from crispml.services.serving.specs import EmptyResponse
from crispml.services.serving.store import TransformJobRow
from crispml.services.serving.transform_specs import (
    ACTIVE,
    CreateTransformJobRequest,
    CreateTransformJobResponse,
    DescribeTransformJobResponse,
    ListTransformJobsRequest,
    ListTransformJobsResponse,
    ModelClientConfig,
    TransformDataSource,
    TransformJobProgress,
    TransformJobRequest,
    TransformJobSummary,
    definition_document,
    definition_of,
)
from crispml.spine.operations import RuntimeAccess, operation

#: The module a job's worker runs (``python -m``); it opens the platform from the settings it is given.
WORKER_MODULE = "crispml.transformworker"
#: A job on another host is taken for dead when its heartbeat is older than this.
STALE_AFTER = timedelta(minutes=2)
#: At most this many input files in one job.
MAX_FILES = 100_000


def transform_arn(name: str) -> str:
    return f"{PREFIX}:transform-job/{name.lower()}"


def transform_crn(name: str | None) -> str:
    return crn("serving", f"transform-job/{name or '*'}")


class TransformOps(RuntimeAccess):
    """Batch transform jobs: a model run over files or a table, in a worker process with its own instances."""

    @operation("CreateTransformJob", resource=lambda r: transform_crn(r.transform_job_name))
    def create_transform_job(self, ctx: CallContext,
                             request: CreateTransformJobRequest) -> CreateTransformJobResponse:
        """Start a batch transform job: the model answers every record of the input files (or a catalog table),
        and its answers go to the output path."""
        name = request.transform_job_name
        with self._reading() as session:
            if session.get(TransformJobRow, name) is not None:
                raise ResourceInUse(f"transform job {name!r} already exists; job names are unique (describe it with "
                                    "'crispml serving describe-transform-job')")
        self._check_model(ctx, request.model_name)
        available, count = len(os.sched_getaffinity(0)), request.transform_resources.instance_count
        if count > available:
            raise ResourceLimitExceeded(f"TransformResources InstanceCount is {count}; this machine has {available} "
                                        "CPUs, and an instance is a process that takes one")
        self._check_output(ctx, request.transform_output.s3_output_path)
        inputs = self._inputs(ctx, request.transform_input.data_source)
        now = self.clock.now()

        def insert(session: Session) -> None:
            seq = (session.scalar(select(func.max(TransformJobRow.seq))) or 0) + 1
            session.add(TransformJobRow(
                name=name, seq=seq, principal=ctx.principal, status="InProgress",
                definition=json.dumps(definition_document(request)), model_name=request.model_name,
                inputs=json.dumps(inputs), progress=json.dumps({"input_files": len(inputs)}),
                owner=process_owner(),  # this process, until the worker takes the job over
                heartbeat_at=now, created_at=now, modified_at=now))
        try:
            self._writing(insert)
        except (IntegrityError, AlreadyExists, Conflict) as exc:  # a concurrent create of the same name won
            raise ResourceInUse(f"transform job {name!r} already exists") from exc
        self._launch_transform(name)
        return CreateTransformJobResponse(transform_job_arn=transform_arn(name))

    def _check_model(self, ctx: CallContext, model: str) -> None:
        registry = self.peer(RegistryService)
        try:
            registry.describe_model(ctx, ModelRequest(model_name=model))
        except NotFound as exc:
            raise ValidationException(f"ModelName: {exc}") from None
        registry.deployable(ctx, model)  # a rejected version cannot be deployed, in a job either

    def _check_output(self, ctx: CallContext, path: str) -> None:
        bucket = path[len("lake://"):].split("/", 1)[0]
        try:
            self.peer(LakeService).head_bucket(ctx, BucketRequest(bucket=bucket))
        except NotFound:
            raise ValidationException(f"TransformOutput S3OutputPath {path}: bucket {bucket!r} does not exist; "
                                      f"create it first (crispml lake create-bucket --bucket {bucket})") from None

    def _inputs(self, ctx: CallContext, source: TransformDataSource) -> list[dict[str, Any]]:
        """What the job reads: each input file (``uri``, ``name`` relative to the prefix, ``size``), or the
        table (``table``, ``name``)."""
        if source.catalog_data_source is not None:
            spec = source.catalog_data_source
            try:
                self.peer(CatalogService).get_table(ctx, TableRequest(database_name=spec.database_name,
                                                                      name=spec.table_name))
            except NotFound as exc:
                raise ValidationException(f"CatalogDataSource: {exc}") from None
            return [{"table": f"{spec.database_name}.{spec.table_name}", "name": spec.table_name}]
        s3 = source.s3_data_source
        assert s3 is not None
        if s3.s3_data_type == "ManifestFile":
            files = self._manifest(ctx, s3.s3_uri)
        else:
            base = s3.s3_uri.rsplit("/", 1)[0] + "/"
            files = [{"uri": uri, "name": uri[len(base):], "size": size} for uri, size in self._listing(ctx, s3.s3_uri)]
        if not files:
            raise ValidationException(f"TransformInput S3Uri {s3.s3_uri} holds no objects: put the input files under "
                                      "it (crispml lake put-object), or correct the prefix")
        return files

    def _listing(self, ctx: CallContext, uri: str) -> list[tuple[str, int]]:
        bucket, _, prefix = uri[len("lake://"):].partition("/")
        lake = self.peer(LakeService)
        found: list[tuple[str, int]] = []
        token: str | None = None
        while True:
            try:
                page = lake.list_objects_v2(ctx, ListObjectsV2Request(bucket=bucket, prefix=prefix,
                                                                      continuation_token=token))
            except NotFound as exc:
                raise ValidationException(f"TransformInput S3Uri {uri}: {exc}") from None
            found += [(f"lake://{bucket}/{o.key}", o.size) for o in page.contents if not o.key.endswith("/")]
            if len(found) > MAX_FILES:
                raise ValidationException(f"TransformInput S3Uri {uri} holds more than {MAX_FILES:,} objects; "
                                          "narrow the prefix, or split the job")
            token = page.next_continuation_token
            if not page.is_truncated or not token:
                return found

    def _manifest(self, ctx: CallContext, uri: str) -> list[dict[str, Any]]:
        """SageMaker's manifest file: ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", …]``."""
        fs = self.peer(LakeService).filesystem(ctx)
        try:
            entries = json.loads(fs.cat_file(uri))
            base = str(entries[0]["prefix"])
            names = [str(e) for e in entries[1:]]
        except FileNotFoundError:
            raise ValidationException(f"the manifest file {uri} does not exist") from None
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ValidationException(f"{uri} is not a manifest file ([{{\"prefix\": \"s3://bucket/prefix/\"}}, "
                                      "\"relative/key\", …])") from exc
        base = "lake://" + base.split("://", 1)[1] if "://" in base else base
        base = base if base.endswith("/") else base + "/"
        files = []
        for relative in names:
            try:
                info = fs.info(base + relative)
            except FileNotFoundError:
                raise ValidationException(f"the manifest {uri} names {base + relative}, which does not exist") \
                    from None
            files.append({"uri": base + relative, "name": relative, "size": int(info.get("size", 0))})
        return files

    def _launch_transform(self, name: str) -> None:
        """Start the job's worker process and record it as the job's owner."""
        settings = self.runtime.settings
        log = settings.home / "serving" / "transform" / "workers.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            pid = forkserver.spawn(WORKER_MODULE, [name], env=settings_environment(settings), log=log,
                                   preload=forkserver.JOB_WORKERS)  # the training workers' fork server
        except OSError as exc:  # no worker could be started: the job ends now, saying why
            self._end_transform(name, "Failed", f"no worker process could be started: {exc}")
            return
        owner = f"{socket.gethostname()}:{pid}"

        def record(row: TransformJobRow, now: datetime) -> None:
            if row.status in ACTIVE and row.owner == process_owner():  # unless the worker has taken it over
                row.owner = owner
                row.heartbeat_at = now
        self._update_transform(name, record)

    @operation("DescribeTransformJob", resource=lambda r: transform_crn(r.transform_job_name), mutating=False,
               positional=("transform_job_name",))
    def describe_transform_job(self, ctx: CallContext, request: TransformJobRequest) -> DescribeTransformJobResponse:
        """Show a transform job: its status, its input, output and resources, and how far it has got."""
        with self._reading() as session:
            row = self._transform_job(session, request.transform_job_name)
        row = self._settle_transforms([row])[0]
        job = definition_of(row)
        return DescribeTransformJobResponse(
            transform_job_name=row.name, transform_job_arn=transform_arn(row.name),
            transform_job_status=row.status,  # type: ignore[arg-type]
            failure_reason=row.failure_reason, model_name=row.model_name,
            max_concurrent_transforms=job.max_concurrent_transforms or 1,
            model_client_config=job.model_client_config or ModelClientConfig(),
            max_payload_in_mb=job.max_payload_in_mb, batch_strategy=job.batch_strategy,
            environment=job.environment, transform_input=job.transform_input, transform_output=job.transform_output,
            transform_resources=job.transform_resources, data_processing=job.processing,
            creation_time=row.created_at, transform_start_time=row.started_at, transform_end_time=row.ended_at,
            last_modified_time=row.modified_at, progress=TransformJobProgress.model_validate(json.loads(row.progress)))

    @operation("ListTransformJobs", resource=lambda r: transform_crn(None), mutating=False)
    def list_transform_jobs(self, ctx: CallContext, request: ListTransformJobsRequest) -> ListTransformJobsResponse:
        """List transform jobs, newest first, filtered by name, status and times."""
        query = job_filters(select(TransformJobRow), TransformJobRow, request)
        with self._reading() as session:
            rows = list(session.scalars(query))
        rows = self._settle_transforms(rows)
        if request.status_equals:  # after settling: a job whose worker died is not InProgress
            rows = [r for r in rows if r.status == request.status_equals]
        sort = {"Name": lambda r: (r.name, r.seq), "CreationTime": lambda r: (r.seq, r.name),
                "Status": lambda r: (r.status, r.seq)}[request.sort_by]
        rows.sort(key=sort, reverse=request.sort_order == "Descending")
        chosen, token = paging.offset_page(rows, request.next_token, request.max_results, ValidationException)
        return ListTransformJobsResponse(
            transform_job_summaries=[TransformJobSummary(
                transform_job_name=r.name, transform_job_arn=transform_arn(r.name), creation_time=r.created_at,
                transform_end_time=r.ended_at, last_modified_time=r.modified_at,
                transform_job_status=r.status, failure_reason=r.failure_reason)  # type: ignore[arg-type]
                for r in chosen],
            next_token=token)

    @operation("StopTransformJob", resource=lambda r: transform_crn(r.transform_job_name),
               positional=("transform_job_name",))
    def stop_transform_job(self, ctx: CallContext, request: TransformJobRequest) -> EmptyResponse:
        """Stop a transform job: it is Stopping until its worker has stopped its instances, then Stopped."""
        with self._reading() as session:
            row = self._transform_job(session, request.transform_job_name)
        self._settle_transforms([row])

        def change(row: TransformJobRow, now: datetime) -> None:
            if row.status != "InProgress":
                raise ValidationException(f"transform job {row.name!r} is {row.status}; only a job InProgress can be "
                                          "stopped")
            row.status = "Stopping"
            row.modified_at = now
        self._update_transform(request.transform_job_name, change)
        return EmptyResponse()

    # -- for the operations and the worker ---------------------------------------------------------------------

    def work_transform(self, name: str) -> None:
        """Run transform job ``name`` in this process until it ends (for the worker entry point, ``python -m
        crispml.transformworker``)."""
        from crispml.services.serving.transform_run import TransformRun

        TransformRun(self, name).run()

    @staticmethod
    def _transform_job(session: Session, name: str, *, lock: bool = False) -> TransformJobRow:
        row = session.get(TransformJobRow, name, with_for_update=lock)
        if row is None:
            names = session.scalars(select(TransformJobRow.name)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ResourceNotFound(f"transform job {name!r} does not exist{hint}; list them with "
                                   "'crispml serving list-transform-jobs'")
        return row

    def _update_transform(self, name: str, change: Callable[[TransformJobRow, datetime], Any]) -> Any:
        """Apply ``change`` to job ``name``'s row in one write transaction (the row locked)."""
        def work(session: Session) -> Any:
            return change(self._transform_job(session, name, lock=True), self.clock.now())
        return self._writing(work)

    def _end_transform(self, name: str, status: str, reason: str | None,
                       progress: dict[str, Any] | None = None) -> None:
        """End job ``name`` (if it has not ended): ``Completed`` becomes ``Stopped`` if a stop was asked."""
        def change(row: TransformJobRow, now: datetime) -> None:
            if row.status not in ACTIVE:
                return
            row.status = "Stopped" if row.status == "Stopping" and status == "Completed" else status
            row.failure_reason = reason if row.status == "Failed" else None
            if progress is not None:
                row.progress = json.dumps(progress)
            row.ended_at = row.modified_at = now
            row.owner = None
        self._update_transform(name, change)

    def _settle_transforms(self, rows: list[TransformJobRow]) -> list[TransformJobRow]:
        """End the active jobs among ``rows`` whose worker is gone; the rows as they are now."""
        now = self.clock.now()
        dead = [r.name for r in rows if r.status in ACTIVE
                and not owner_alive(r.owner, heartbeat_at=r.heartbeat_at, now=now, stale_after=STALE_AFTER)]
        if not dead:
            return rows

        def work(session: Session) -> None:
            for name in dead:
                row = self._transform_job(session, name, lock=True)
                if row.status not in ACTIVE or owner_alive(row.owner, heartbeat_at=row.heartbeat_at, now=now,
                                                           stale_after=STALE_AFTER):
                    continue  # ended or taken over meanwhile
                stopped = row.status == "Stopping"
                row.status = "Stopped" if stopped else "Failed"
                row.failure_reason = None if stopped else (
                    f"the worker process running the job ({row.owner}) ended without finishing it (was it killed? "
                    "its errors, if any, are in <home>/serving/transform/workers.log); its instances ended with it")
                progress = json.loads(row.progress)
                progress["instances"] = []
                row.progress = json.dumps(progress)
                row.ended_at = row.modified_at = now
                row.owner = None
        self._writing(work)
        with self._reading() as session:
            fresh = {r.name: r for r in session.scalars(
                select(TransformJobRow).where(TransformJobRow.name.in_([r.name for r in rows])))}
        return [fresh.get(r.name, r) for r in rows]
