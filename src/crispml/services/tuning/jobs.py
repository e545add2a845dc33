"""Tuning job operations (SageMaker automatic model tuning): create, describe, list, stop, list trials.

``CreateHyperParameterTuningJob`` checks everything it can before anything
is recorded, as SageMaker validates a request: the name is free
(``ResourceInUse``); the algorithm exists and the static hyperparameters with
each range's ends are in range (built-ins); the objective metric is one the
algorithm (or the job's ``MetricDefinitions``) emits; the parents of a warm
start exist and have ended, and for ``IdenticalDataAndAlgorithm`` have the
same algorithm, data and objective. Then the job is recorded ``InProgress``
and its driver process started (``driver.py``); the call returns at once.

A job whose driver died while it was active is driven on by a new driver,
started by the next call that reads it (Describe, List, ListTrainingJobsFor…,
Stop) — the search continues from the trial rows, so no trial is lost or
run twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.config import settings_environment
from crispml.core.context import CallContext
from crispml.core.errors import AlreadyExists, Conflict
from crispml.core.metadb.listing import job_filters
from crispml.core.names import crn
from crispml.core.owners import owner_alive, process_owner
from crispml.services.training.service import builtin_algorithm, builtin_algorithm_names
from crispml.services.tuning.core import close_job, definition_of, objective_regex
from crispml.services.tuning.entities import (
    ACTIVE,
    ContinuousParameterRange,
    FinalHyperParameterTuningJobObjectiveMetric,
    HyperParameterTrainingJobSummary,
    HyperParameterTuningJobSummary,
    IntegerParameterRange,
    ObjectiveStatusCounters,
    TrainingJobStatusCounters,
)
from crispml.services.tuning.errors import ResourceInUse, ResourceNotFound, ValidationException
from crispml.services.tuning.specs import (
    CreateHyperParameterTuningJobRequest,
    CreateHyperParameterTuningJobResponse,
    DescribeHyperParameterTuningJobResponse,
    EmptyResponse,
    ListHyperParameterTuningJobsRequest,
    ListHyperParameterTuningJobsResponse,
    ListTrainingJobsForHyperParameterTuningJobRequest,
    ListTrainingJobsForHyperParameterTuningJobResponse,
    TuningJobRequest,
)
from crispml.services.tuning.store import TuningJobRow, TuningTrialRow
from crispml.spine.operations import RuntimeAccess, operation

#: The module a driver runs (``python -m``); it opens the platform from the settings it is given.
DRIVER_MODULE = "crispml.tuningworker"
#: A driver on another host is taken for dead when its heartbeat is older than this.
STALE_AFTER = timedelta(minutes=2)
#: After this many drivers died driving one job, it ends Failed instead of being given another.
MAX_DRIVERS = 5


def job_crn(name: str | None) -> str:
    return crn("tuning", f"hyper-parameter-tuning-job/{name or '*'}")


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/{name.lower()}"


def trial_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name.lower()}"




def trial_summary(row: TuningTrialRow,
                  request: CreateHyperParameterTuningJobRequest) -> HyperParameterTrainingJobSummary:
    objective = request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
    assert objective is not None
    final = None
    if row.objective is not None and row.ended_at is not None:
        final = FinalHyperParameterTuningJobObjectiveMetric(type=objective.type, metric_name=objective.metric_name,
                                                            value=row.objective)
    status = "InProgress" if row.status == "Pending" else row.status
    return HyperParameterTrainingJobSummary(
        training_job_name=row.name, training_job_arn=trial_arn(row.name), tuning_job_name=row.tuning_job,
        creation_time=row.created_at, training_start_time=row.started_at, training_end_time=row.ended_at,
        training_job_status=status,  # type: ignore[arg-type]
        tuned_hyper_parameters=json.loads(row.params), failure_reason=row.failure_reason,
        final_hyper_parameter_tuning_job_objective_metric=final,
        objective_status="Pending" if row.ended_at is None else ("Succeeded" if final else "Failed"),
        early_stopped=row.early_stopped, objective_steps=len(json.loads(row.steps)))


def _counters(rows: list[TuningTrialRow]) -> tuple[TrainingJobStatusCounters, ObjectiveStatusCounters]:
    status = TrainingJobStatusCounters()
    objective = ObjectiveStatusCounters()
    for r in rows:
        if r.ended_at is None:
            status.in_progress += 1
            objective.pending += 1
            continue
        if r.status == "Completed":
            status.completed += 1
        elif r.status == "Stopped":
            status.stopped += 1
        else:
            status.non_retryable_error += 1
        if r.objective is None:
            objective.failed += 1
        else:
            objective.succeeded += 1
    return status, objective


def best(rows: list[TuningTrialRow], minimize: bool) -> TuningTrialRow | None:
    scored = [r for r in rows if r.objective is not None and r.ended_at is not None]
    if not scored:
        return None
    return (min if minimize else max)(scored, key=lambda r: r.objective)  # type: ignore[arg-type,return-value]


class TuningOps(RuntimeAccess):
    """Tuning jobs: their life cycle and their records."""

    @operation("CreateHyperParameterTuningJob", resource=lambda r: job_crn(r.hyper_parameter_tuning_job_name))
    def create_hyper_parameter_tuning_job(self, ctx: CallContext, request: CreateHyperParameterTuningJobRequest
                                          ) -> CreateHyperParameterTuningJobResponse:
        """Start a tuning job: trials of a training job definition over hyperparameter ranges, by a strategy."""
        name = request.hyper_parameter_tuning_job_name
        with self._reading() as session:
            if session.get(TuningJobRow, name) is not None:
                raise ResourceInUse(f"hyperparameter tuning job {name!r} already exists; names are unique (describe "
                                    "it with 'crispml tuning describe-hyper-parameter-tuning-job')")
            self._check_parents(session, request)
        self._check_algorithm(request)
        now = self.clock.now()
        definition = request.model_dump(mode="json", by_alias=False, exclude={"hyper_parameter_tuning_job_name"})

        def insert(session: Session) -> None:
            seq = (session.scalar(select(func.max(TuningJobRow.seq))) or 0) + 1
            session.add(TuningJobRow(name=name, seq=seq, principal=ctx.principal, status="InProgress",
                                     definition=json.dumps(definition), owner=process_owner(), drivers=0,
                                     created_at=now, modified_at=now))
        try:
            self._writing(insert)
        except (IntegrityError, AlreadyExists, Conflict) as exc:
            raise ResourceInUse(f"hyperparameter tuning job {name!r} already exists") from exc
        self._launch(name)
        return CreateHyperParameterTuningJobResponse(hyper_parameter_tuning_job_arn=job_arn(name))

    @staticmethod
    def _check_algorithm(request: CreateHyperParameterTuningJobRequest) -> None:
        definition = request.training_job_definition
        spec = definition.algorithm_specification
        objective = request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
        assert objective is not None
        if (spec.algorithm_name is None) == (spec.training_image is None):
            raise ValidationException("AlgorithmSpecification needs exactly one of AlgorithmName (a built-in "
                                      "algorithm) and TrainingImage (a framework, for a script)")
        emitted = [d.name for d in spec.metric_definitions]
        if spec.algorithm_name is not None:
            if spec.algorithm_name not in builtin_algorithm_names():
                raise ValidationException(f"algorithm {spec.algorithm_name!r} is not a built-in algorithm; the "
                                          f"built-ins are: {', '.join(builtin_algorithm_names())}")
            algorithm = builtin_algorithm(spec.algorithm_name)
            emitted = [name for name, _ in algorithm.metric_definitions] + emitted
            ranges = request.hyper_parameter_tuning_job_config.parameter_ranges
            numeric: list[IntegerParameterRange | ContinuousParameterRange] = [
                *ranges.integer_parameter_ranges, *ranges.continuous_parameter_ranges]
            width = max([len(c.values) for c in ranges.categorical_parameter_ranges] + [2])
            for i in range(width):  # every range's ends and every categorical value, with the static values
                values = {**definition.static_hyper_parameters,
                          **{r.name: (r.min_value if i % 2 == 0 else r.max_value) for r in numeric},
                          **{c.name: c.values[i % len(c.values)] for c in ranges.categorical_parameter_ranges}}
                algorithm.validate(values)
        elif "sagemaker_program" not in definition.static_hyper_parameters:
            raise ValidationException("a script's trials name their entry point in the sagemaker_program static "
                                      "hyperparameter (and its folder in sagemaker_submit_directory)")
        if objective_regex(request) is None:
            what = (f"algorithm {spec.algorithm_name!r}" if spec.algorithm_name is not None
                    else "the training job definition's MetricDefinitions")
            raise ValidationException(
                f"the objective metric {objective.metric_name!r} is not emitted by {what}; it emits: "
                f"{', '.join(emitted) or 'no metric (add MetricDefinitions: a name and a regex over the logs)'}")

    @staticmethod
    def _check_parents(session: Session, request: CreateHyperParameterTuningJobRequest) -> None:
        warm = request.warm_start_config
        if warm is None:
            return
        names = [p.hyper_parameter_tuning_job_name for p in warm.parent_hyper_parameter_tuning_jobs]
        if len(set(names)) != len(names):
            raise ValidationException("WarmStartConfig names a parent tuning job twice")
        for parent in names:
            row = session.get(TuningJobRow, parent)
            if row is None:
                raise ResourceNotFound(f"the warm start's parent tuning job {parent!r} does not exist")
            if row.status in ACTIVE:
                raise ValidationException(f"the warm start's parent tuning job {parent!r} is {row.status}; a parent "
                                          "must have ended (Completed, Stopped or Failed)")
            if warm.warm_start_type != "IdenticalDataAndAlgorithm":
                continue
            theirs = definition_of(row)
            mine, other = request.training_job_definition, theirs.training_job_definition
            same = (mine.algorithm_specification.algorithm_name == other.algorithm_specification.algorithm_name
                    and mine.algorithm_specification.training_image == other.algorithm_specification.training_image
                    and mine.input_data_config == other.input_data_config
                    and request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
                    == theirs.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective)
            if not same:
                raise ValidationException(f"IdenticalDataAndAlgorithm: parent {parent!r} has another algorithm, input "
                                          "data or objective; use TransferLearning to warm start from it")

    def _launch(self, name: str) -> None:
        """Start a driver process for job ``name`` and record it as the job's owner."""
        settings = self.runtime.settings
        log = settings.home / "tuning" / "drivers.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("ab") as errors:
                process = subprocess.Popen([sys.executable, "-m", DRIVER_MODULE, name],
                                           env=settings_environment(settings), stdin=subprocess.DEVNULL,
                                           stdout=errors, stderr=errors, start_new_session=True, close_fds=True)
        except OSError as exc:
            reason = f"no driver could be started: {exc}"
            self._update(name, lambda row, now: close_job(row, now, "Failed", reason))
            return
        import socket

        owner = f"{socket.gethostname()}:{process.pid}"

        def record(row: TuningJobRow, now: datetime) -> None:
            if row.status in ACTIVE:
                row.owner = owner
                row.heartbeat_at = now
        self._update(name, record)

    @staticmethod
    def _job(session: Session, name: str, *, lock: bool = False) -> TuningJobRow:
        row = session.get(TuningJobRow, name, with_for_update=lock)
        if row is None:
            raise ResourceNotFound(f"hyperparameter tuning job {name!r} does not exist; list them with "
                                   "'crispml tuning list-hyper-parameter-tuning-jobs'")
        return row

    def _update(self, name: str, change: Any) -> Any:
        def work(session: Session) -> Any:
            return change(self._job(session, name, lock=True), self.clock.now())
        return self._writing(work)

    def _settle(self, rows: list[TuningJobRow]) -> None:
        """Start a new driver for each active job among ``rows`` whose driver is gone (it resumes the search)."""
        now = self.clock.now()
        for row in rows:
            if row.status not in ACTIVE or owner_alive(row.owner, heartbeat_at=row.heartbeat_at, now=now,
                                                       stale_after=STALE_AFTER):
                continue

            def claim(session: Session, name: str = row.name) -> bool:
                fresh = self._job(session, name, lock=True)
                if fresh.status not in ACTIVE or owner_alive(fresh.owner, heartbeat_at=fresh.heartbeat_at,
                                                             now=now, stale_after=STALE_AFTER):
                    return False
                if fresh.drivers >= MAX_DRIVERS:
                    close_job(fresh, now, "Failed", f"its driver process died {fresh.drivers} times without finishing "
                                                 "it; the reasons are in <home>/tuning/drivers.log")
                    return False
                fresh.owner = process_owner()  # this process, until the new driver takes over
                fresh.heartbeat_at = now
                return True
            if self._writing(claim):
                self._launch(row.name)

    def _trials(self, session: Session, name: str) -> list[TuningTrialRow]:
        return list(session.scalars(select(TuningTrialRow).where(TuningTrialRow.tuning_job == name)
                                    .order_by(TuningTrialRow.number)))

    @operation("DescribeHyperParameterTuningJob", resource=lambda r: job_crn(r.hyper_parameter_tuning_job_name),
               mutating=False, positional=("hyper_parameter_tuning_job_name",))
    def describe_hyper_parameter_tuning_job(self, ctx: CallContext, request: TuningJobRequest
                                            ) -> DescribeHyperParameterTuningJobResponse:
        """Show a tuning job: its status, trial counts, objective counts and best training job."""
        name = request.hyper_parameter_tuning_job_name
        with self._reading() as session:
            self._settle([self._job(session, name)])
        with self._reading() as session:
            row = self._job(session, name)
            trials = self._trials(session, name)
            definition = definition_of(row)
            parents = parent_rows(session, definition)
        config = definition.hyper_parameter_tuning_job_config
        assert config.hyper_parameter_tuning_job_objective is not None
        minimize = config.hyper_parameter_tuning_job_objective.type == "Minimize"
        status, objective = _counters(trials)
        mine = best(trials, minimize)
        overall = best([*trials, *parents], minimize) if parents else None
        return DescribeHyperParameterTuningJobResponse(
            hyper_parameter_tuning_job_name=row.name, hyper_parameter_tuning_job_arn=job_arn(row.name),
            hyper_parameter_tuning_job_config=config, training_job_definition=definition.training_job_definition,
            warm_start_config=definition.warm_start_config,
            hyper_parameter_tuning_job_status=row.status,  # type: ignore[arg-type]
            creation_time=row.created_at, hyper_parameter_tuning_end_time=row.ended_at,
            last_modified_time=row.modified_at, training_job_status_counters=status,
            objective_status_counters=objective,
            best_training_job=trial_summary(mine, definition) if mine is not None else None,
            overall_best_training_job=trial_summary(overall, definition) if overall is not None else None,
            failure_reason=row.failure_reason, tags=definition.tags)

    @operation("ListHyperParameterTuningJobs", resource=lambda r: job_crn(None), mutating=False)
    def list_hyper_parameter_tuning_jobs(self, ctx: CallContext, request: ListHyperParameterTuningJobsRequest
                                         ) -> ListHyperParameterTuningJobsResponse:
        """List tuning jobs, filtered by name, status or times, sorted by name, status or creation time."""
        query = job_filters(select(TuningJobRow), TuningJobRow, request)
        if request.status_equals:
            query = query.where(TuningJobRow.status == request.status_equals)
        with self._reading() as session:
            rows = list(session.scalars(query))
        self._settle(rows)
        sort = {"Name": lambda r: (r.name, r.seq), "CreationTime": lambda r: (r.seq, r.name),
                "Status": lambda r: (r.status, r.seq)}[request.sort_by]
        rows.sort(key=sort, reverse=request.sort_order == "Descending")
        chosen, token = paging.offset_page(rows, request.next_token, request.max_results, ValidationException)
        summaries = []
        with self._reading() as session:
            for row in chosen:
                row = self._job(session, row.name)
                definition = definition_of(row)
                status, objective = _counters(self._trials(session, row.name))
                summaries.append(HyperParameterTuningJobSummary(
                    hyper_parameter_tuning_job_name=row.name, hyper_parameter_tuning_job_arn=job_arn(row.name),
                    hyper_parameter_tuning_job_status=row.status,  # type: ignore[arg-type]
                    strategy=definition.hyper_parameter_tuning_job_config.strategy, creation_time=row.created_at,
                    hyper_parameter_tuning_end_time=row.ended_at, last_modified_time=row.modified_at,
                    training_job_status_counters=status, objective_status_counters=objective,
                    resource_limits=definition.hyper_parameter_tuning_job_config.resource_limits))
        return ListHyperParameterTuningJobsResponse(hyper_parameter_tuning_job_summaries=summaries, next_token=token)

    @operation("StopHyperParameterTuningJob", resource=lambda r: job_crn(r.hyper_parameter_tuning_job_name),
               positional=("hyper_parameter_tuning_job_name",))
    def stop_hyper_parameter_tuning_job(self, ctx: CallContext, request: TuningJobRequest) -> EmptyResponse:
        """Stop a tuning job: its running training jobs are stopped; it ends Stopped."""
        name = request.hyper_parameter_tuning_job_name
        with self._reading() as session:
            self._settle([self._job(session, name)])

        def change(row: TuningJobRow, now: datetime) -> None:
            if row.status != "InProgress":
                raise ValidationException(f"hyperparameter tuning job {name!r} is {row.status}; only a job "
                                          "InProgress can be stopped")
            row.status = "Stopping"
            row.modified_at = now
        self._update(name, change)
        return EmptyResponse()

    @operation("ListTrainingJobsForHyperParameterTuningJob",
               resource=lambda r: job_crn(r.hyper_parameter_tuning_job_name), mutating=False,
               positional=("hyper_parameter_tuning_job_name",))
    def list_training_jobs_for_hyper_parameter_tuning_job(
            self, ctx: CallContext, request: ListTrainingJobsForHyperParameterTuningJobRequest
    ) -> ListTrainingJobsForHyperParameterTuningJobResponse:
        """List a tuning job's training jobs (its trials) with their hyperparameters and final objective."""
        name = request.hyper_parameter_tuning_job_name
        with self._reading() as session:
            self._settle([self._job(session, name)])
        with self._reading() as session:
            definition = definition_of(self._job(session, name))
            rows = self._trials(session, name)
        summaries = [trial_summary(r, definition) for r in rows]
        if request.status_equals:
            summaries = [s for s in summaries if s.training_job_status == request.status_equals]
        descending = request.sort_order == "Descending"
        if request.sort_by == "FinalObjectiveMetricValue":
            scored = [s for s in summaries if s.final_hyper_parameter_tuning_job_objective_metric is not None]
            rest = [s for s in summaries if s.final_hyper_parameter_tuning_job_objective_metric is None]
            scored.sort(key=lambda s: s.final_hyper_parameter_tuning_job_objective_metric.value,  # type: ignore[union-attr]
                        reverse=descending)
            summaries = scored + rest  # trials without an objective last, whichever the order
        else:
            key = {"Name": lambda s: s.training_job_name,
                   "CreationTime": lambda s: (s.creation_time, s.training_job_name),
                   "Status": lambda s: (s.training_job_status, s.training_job_name)}[request.sort_by]
            summaries.sort(key=key, reverse=descending)
        chosen, token = paging.offset_page(summaries, request.next_token, request.max_results, ValidationException)
        return ListTrainingJobsForHyperParameterTuningJobResponse(training_job_summaries=chosen, next_token=token)


def parent_rows(session: Session, request: CreateHyperParameterTuningJobRequest) -> list[TuningTrialRow]:
    if request.warm_start_config is None:
        return []
    names = [p.hyper_parameter_tuning_job_name for p in request.warm_start_config.parent_hyper_parameter_tuning_jobs]
    return list(session.scalars(select(TuningTrialRow).where(TuningTrialRow.tuning_job.in_(names))))
