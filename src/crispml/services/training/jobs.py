"""Training job operations (SageMaker): create, describe, list, stop, and a job's logs.

``CreateTrainingJob`` checks everything it can before anything is recorded,
as SageMaker validates a request: the name is free (``ResourceInUse``), the
algorithm exists and its hyperparameters are in range (built-ins), the
framework is one this machine runs (scripts), the CPUs asked for exist, and
every channel resolves to data — its pins are taken then (``channels.py``).
A script's source directory is packed into
``<S3OutputPath><job>/source/sourcedir.tar.gz`` (a local folder, as the
SageMaker SDK uploads one) and hashed; the pins, the code's hash and the
hyperparameters are the job's lineage. Then the job is recorded
``InProgress``/``Starting`` and handed to a worker (``warm.py``), and the call
returns its ARN at once; DescribeTrainingJob follows it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from datetime import datetime
from pathlib import Path
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import AlreadyExists, Conflict
from crispml.core.metadb.listing import job_filters
from crispml.services.lake.service import LakeService
from crispml.services.training import channels, warm
from crispml.services.training.core import (
    LOG_GROUP,
    TrainingCore,
    awaiting_worker,
    entity,
    handing_out,
    job_arn,
    job_crn,
    move,
    summary,
)
from crispml.services.training.entities import ACTIVE, Lineage
from crispml.services.training.errors import ResourceInUse, ResourceLimitExceeded, ValidationException
from crispml.services.training.executor import cpus_of
from crispml.services.training.frameworks import decode, framework_of
from crispml.services.training.specs import (
    CreateTrainingJobRequest,
    CreateTrainingJobResponse,
    DescribeTrainingJobResponse,
    EmptyResponse,
    GetTrainingJobLogsRequest,
    GetTrainingJobLogsResponse,
    ListTrainingJobsRequest,
    ListTrainingJobsResponse,
    LogLine,
    TrainingJobRequest,
)
from crispml.services.training.store import TrainingJobRow
from crispml.spine.operations import Service, operation

#: Largest source directory packed for a script job.
MAX_SOURCE_BYTES = 512 * 1024 * 1024


class JobOps(TrainingCore):
    """Training jobs: their life cycle and their records."""

    @operation("CreateTrainingJob", resource=lambda r: job_crn(r.training_job_name))
    def create_training_job(self, ctx: CallContext, request: CreateTrainingJobRequest) -> CreateTrainingJobResponse:
        """Start a training job: a built-in algorithm or a script, on channels from the lake or the catalog."""
        spec = request.algorithm_specification
        with self._reading() as session:
            if session.get(TrainingJobRow, request.training_job_name) is not None:
                raise ResourceInUse(f"training job {request.training_job_name!r} already exists; job names are "
                                    "unique (describe it with 'crispml training describe-training-job')")
        framework = None
        if spec.algorithm_name is not None:
            from crispml.services.training import algorithms

            algorithm = algorithms.get(spec.algorithm_name)
            algorithm.validate(request.hyper_parameters)
            held_out = request.evaluation.test_channel_name if request.evaluation is not None else None
            known = algorithm.required_channels | algorithm.optional_channels
            algorithm.validate_channels({c.channel_name: c.content_type or "text/csv"
                                         for c in request.input_data_config
                                         if c.channel_name != held_out or held_out in known})
            code_hash = _file_hash(algorithm)
        else:
            assert spec.training_image is not None
            framework = framework_of(spec.training_image)
            code_hash = self._pack_source(ctx, request)
        available = len(os.sched_getaffinity(0))
        if (request.resource_config.cpus or 1) > available:
            raise ResourceLimitExceeded(f"ResourceConfig asks for {request.resource_config.cpus} CPUs; this machine "
                                        f"has {available}")
        self._check_regexes(request)
        pins = [channels.pin(cast(Service, self), ctx, channel) for channel in request.input_data_config]
        lineage = Lineage(channels=pins, code_sha256=code_hash, hyperparameters=request.hyper_parameters)
        key = warm.pool_key(spec.algorithm_name, framework, cpus_of(request),
                            request.resource_config.memory_limit_in_mb)
        now = self.clock.now()
        definition = request.model_dump(mode="json", exclude={"training_job_name"})

        def insert(session: Session) -> None:
            seq = (session.scalar(select(func.max(TrainingJobRow.seq))) or 0) + 1
            row = TrainingJobRow(
                name=request.training_job_name, seq=seq, principal=ctx.principal, status="InProgress",
                secondary_status="Starting", transitions="[]", definition=json.dumps(definition),
                lineage=lineage.model_dump_json(), final_metrics="[]", pool_key=key,
                attempts=0, owner=handing_out(),  # this process, until it has handed the job to a worker
                created_at=now, modified_at=now)
            move(row, "Starting", "Preparing the instances for training", now)
            session.add(row)
        try:
            self._writing(insert)
        except (IntegrityError, AlreadyExists, Conflict) as exc:  # a concurrent create of the same name won
            raise ResourceInUse(f"training job {request.training_job_name!r} already exists") from exc
        self._launch(request.training_job_name)
        return CreateTrainingJobResponse(training_job_arn=job_arn(request.training_job_name))

    def _launch(self, name: str) -> None:
        with self._reading() as session:
            key = self._job(session, name).pool_key
        try:
            owner = warm.launch(self, name, key)  # type: ignore[arg-type]
        except OSError as exc:  # no worker could be started: the job ends now, saying why
            self._end_with_fault(name, f"no worker process could be started: {exc}")
            return

        def record(row: TrainingJobRow, now: datetime) -> None:
            if row.status in ACTIVE and awaiting_worker(row):  # else a worker has taken it: its owner is recorded
                row.owner = owner
                row.heartbeat_at = now
        self._update(name, record)

    @staticmethod
    def _check_regexes(request: CreateTrainingJobRequest) -> None:
        import re

        for definition in request.algorithm_specification.metric_definitions:
            try:
                re.compile(definition.regex)
            except re.error as exc:
                raise ValidationException(f"MetricDefinitions {definition.name!r}: the regex "
                                          f"{definition.regex!r} does not compile ({exc})") from exc

    def _pack_source(self, ctx: CallContext, request: CreateTrainingJobRequest) -> str:
        """Put the script's source directory in the lake (if it is a local folder); its SHA-256."""
        program = decode(request.hyper_parameters["sagemaker_program"])
        given = request.hyper_parameters.get("sagemaker_submit_directory")
        submit = decode(given) if given else None
        fs = self.peer(LakeService).filesystem(ctx)
        if submit and submit.startswith(("lake://", "s3://", "s3a://")):
            uri = "lake://" + submit.split("://", 1)[1]
            try:
                data = fs.cat_file(uri)
            except FileNotFoundError as exc:
                raise ValidationException(f"sagemaker_submit_directory {submit!r} does not exist") from exc
            request.hyper_parameters["sagemaker_submit_directory"] = uri
            return hashlib.sha256(data).hexdigest()
        folder = Path(submit) if submit else Path(program).parent
        if not folder.is_dir():
            raise ValidationException(f"sagemaker_submit_directory {str(folder)!r} is not a folder; give the folder "
                                      "holding the script (or a lake:// sourcedir.tar.gz)")
        entry = folder / (program if submit else Path(program).name)
        if not entry.is_file():
            raise ValidationException(f"the entry point {program!r} is not in {str(folder)!r}")
        if not submit:
            request.hyper_parameters["sagemaker_program"] = Path(program).name
        archive, digest = _pack(folder, only=None if submit else entry.name)  # no folder: the script alone, as the SDK
        uri = f"{request.output_data_config.s3_output_path}{request.training_job_name}/source/sourcedir.tar.gz"
        with fs.open(uri, "wb") as out:
            out.write(archive)
        request.hyper_parameters["sagemaker_submit_directory"] = uri
        return digest

    @operation("DescribeTrainingJob", resource=lambda r: job_crn(r.training_job_name), mutating=False,
               positional=("training_job_name",))
    def describe_training_job(self, ctx: CallContext, request: TrainingJobRequest) -> DescribeTrainingJobResponse:
        """Show a training job: its status and secondary statuses, metrics, artifacts and lineage."""
        with self._reading() as session:
            row = self._job(session, request.training_job_name)
        row = self._settle([row])[0]
        return DescribeTrainingJobResponse.model_validate(entity(row, self.clock.now()).model_dump())

    @operation("ListTrainingJobs", resource=lambda r: job_crn(None), mutating=False)
    def list_training_jobs(self, ctx: CallContext, request: ListTrainingJobsRequest) -> ListTrainingJobsResponse:
        """List training jobs, newest first, filtered by name, status, times or warm pool status."""
        query = job_filters(select(TrainingJobRow), TrainingJobRow, request)
        if request.status_equals:
            query = query.where(TrainingJobRow.status == request.status_equals)
        with self._reading() as session:
            rows = list(session.scalars(query))
        rows = self._settle(rows)
        if request.warm_pool_status_equals:
            rows = [r for r in rows if r.warm_pool_status
                    and json.loads(r.warm_pool_status)["status"] == request.warm_pool_status_equals]
        sort = {"Name": lambda r: (r.name, r.seq), "CreationTime": lambda r: (r.seq, r.name),
                "Status": lambda r: (r.status, r.seq)}[request.sort_by]
        rows.sort(key=sort, reverse=request.sort_order == "Descending")
        chosen, token = paging.offset_page(rows, request.next_token, request.max_results, ValidationException)
        return ListTrainingJobsResponse(training_job_summaries=[summary(r) for r in chosen], next_token=token)

    @operation("StopTrainingJob", resource=lambda r: job_crn(r.training_job_name),
               positional=("training_job_name",))
    def stop_training_job(self, ctx: CallContext, request: TrainingJobRequest) -> EmptyResponse:
        """Stop a training job: its process gets SIGTERM (then SIGKILL); it ends Stopped."""
        with self._reading() as session:
            row = self._job(session, request.training_job_name)
        self._settle([row])

        def change(row: TrainingJobRow, now: datetime) -> None:
            if row.status != "InProgress":
                raise ValidationException(f"training job {row.name!r} is {row.status}; only a job InProgress can "
                                          "be stopped")
            move(row, "Stopping", "Stopping the training job", now, status="Stopping")
        self._update(request.training_job_name, change)
        return EmptyResponse()

    @operation("GetTrainingJobLogs", resource=lambda r: job_crn(r.training_job_name), mutating=False,
               positional=("training_job_name",))
    def get_training_job_logs(self, ctx: CallContext, request: GetTrainingJobLogsRequest) -> GetTrainingJobLogsResponse:
        """A job's log lines (CloudWatch Logs group /aws/sagemaker/TrainingJobs), from NextToken on."""
        from crispml.services.monitoring.service import GetLogEventsRequest, MonitoringService

        with self._reading() as session:
            row = self._job(session, request.training_job_name)
        row = self._settle([row])[0]
        lines: list[LogLine] = []
        token = request.next_token
        if row.log_stream is not None:
            from crispml.core.errors import NotFound

            try:
                page = self.peer(MonitoringService).get_log_events(ctx, GetLogEventsRequest(
                    log_group_name=LOG_GROUP, log_stream_name=row.log_stream, next_token=request.next_token,
                    limit=request.limit, start_from_head=True))
            except NotFound:  # the worker has not sent its first lines yet
                page = None
            if page is not None:
                lines = [LogLine(timestamp=datetime.fromtimestamp(e.timestamp / 1000).astimezone(),
                                 message=e.message) for e in page.events]
                token = page.next_forward_token
        return GetTrainingJobLogsResponse(log_group=LOG_GROUP, log_stream=row.log_stream, lines=lines,
                                          next_token=token or "", training_job_status=row.status,  # type: ignore[arg-type]
                                          secondary_status=row.secondary_status)


def _file_hash(algorithm: object) -> str:
    import inspect

    source = inspect.getsourcefile(type(algorithm))
    return hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else ""


def _pack(folder: Path, only: str | None = None) -> tuple[bytes, str]:
    """``folder`` (or only its file ``only``) as a gzipped tar (files in name order, times zeroed) and the
    SHA-256 of its files."""
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in [folder / only] if only else sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or not path.is_file():
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_SOURCE_BYTES:
                raise ValidationException(f"the source directory {str(folder)!r} is larger than 512 MB")
            digest.update(str(relative).encode() + b"\0" + hashlib.sha256(data).digest())
            info = tarfile.TarInfo(str(relative))
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), digest.hexdigest()


