"""The driver: one process per tuning job that runs its search, each trial a training job.

A driver (``python -m crispml.tuningworker JOB``, started by
CreateHyperParameterTuningJob, or by the next call that finds the job's
driver dead) takes the job over (``owner``), rebuilds the Optuna study from
the job's trial rows (``search.py``) and loops until the job ends:

- it keeps up to ``MaxParallelTrainingJobs`` trials running: it asks the
  study for a point, records the trial row (``Pending``, with its name and
  hyperparameters), then creates the training job through the training
  service's ``CreateTrainingJob`` as the tuning job's creator (a recorded
  trial whose training job was never created is created under the same name,
  so a kill between the two loses and duplicates nothing);
- trials get a warm pool (``KeepAlivePeriodInSeconds``, default
  :data:`TRIAL_KEEP_ALIVE_SECONDS`) so the next trial takes the finished one's
  worker — interpreter and libraries loaded — instead of starting a new one;
  a slot is refilled once the finished trial's worker is back in the pool
  (or :data:`WARM_WAIT_SECONDS` passed), and trials without a CPU count get
  ``cores / MaxParallelTrainingJobs`` each;
- it follows each running trial: its status (``DescribeTrainingJob``, polled,
  and looked at at once when the trial's worker announces that it ended or is
  back in its pool: training's ``EndWatch``) and,
  when early stopping or Hyperband is on, every new objective value in its
  logs (``GetTrainingJobLogs``, with the objective's metric regex), which it
  reports to the study at that step; a trial the pruner condemns is stopped
  (``StopTrainingJob``), and under Hyperband a trial reaching ``MaxResource``
  steps too;
- a trial that ends is told to the study with its final objective (the last
  value of the metric in ``FinalMetricDataList``; a stopped trial its last
  reported step) and recorded;
- ``StopHyperParameterTuningJob`` (status ``Stopping``) stops every running
  trial; the job ends ``Stopped`` when they have; otherwise it ends
  ``Completed`` when every trial has ended, or ``Failed`` when none has an
  objective or a trial's training job could not be created (as on AWS, a
  request error in the trials' definition is not retried).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, InvalidArgument, NotFound
from crispml.core.owners import process_owner
from crispml.services.training.service import (
    CreateTrainingJobRequest,
    EndWatch,
    GetTrainingJobLogsRequest,
    ResourceInUse,
    Tag,
    TrainingJobRequest,
    TrainingService,
)
from crispml.services.tuning import search
from crispml.services.tuning.core import close_job, definition_of, objective_regex, parent_trials
from crispml.services.tuning.entities import ACTIVE
from crispml.services.tuning.store import TuningJobRow, TuningTrialRow

if TYPE_CHECKING:
    import optuna

    from crispml.services.tuning.service import TuningService

#: A trial's worker is kept this long for the next trial when the definition sets no keep-alive period.
TRIAL_KEEP_ALIVE_SECONDS = 60
#: How long a free slot waits for the finished trial's worker to be back in the warm pool.
WARM_WAIT_SECONDS = 10.0
#: Poll interval bounds (the driver polls fast while trials start and end, slower while they train).
POLL_MIN, POLL_MAX = 0.02, 0.25
HEARTBEAT_SECONDS = 5.0
#: Tag each trial carries, naming its tuning job.
TUNING_TAG = "crispml:tuning-job"
FINISHED = ("Completed", "Failed", "Stopped")


def trial_name(job: str, number: int) -> str:
    """AWS's trial names: ``<tuning job>-<3-digit number>-<8 hex digits>`` (fixed by job and number)."""
    digest = hashlib.sha256(f"{job}/{number}".encode()).hexdigest()[:8]
    return f"{job}-{number + 1:03d}-{digest}"



@dataclass
class Live:
    """A running trial as the driver follows it."""

    name: str
    trial: optuna.Trial
    steps: list[float] = field(default_factory=list)
    cursor: str | None = None
    stopping: bool = False
    early_stopped: bool = False
    ended: dict[str, Any] | None = None
    ended_at: float = 0.0


class Driver:
    """Runs one tuning job's search in this process (see the module docstring)."""

    def __init__(self, service: TuningService, name: str) -> None:
        self.service = service
        self.name = name
        self.training = service.peer(TrainingService)

    def drive(self) -> str:
        row = self._take_over()
        if row.status not in ACTIVE:
            return row.status
        request = definition_of(row)
        self.request = request
        self.config = request.hyper_parameter_tuning_job_config
        self.ctx = CallContext(principal=row.principal, source="tuning-job")
        regex = objective_regex(request)
        self.pattern = re.compile(regex) if regex else None
        self.follow_steps = self.config.early_stopping or self.config.strategy == "Hyperband"
        hyperband = self.config.strategy_config.hyperband_strategy_config if self.config.strategy_config else None
        self.max_resource = hyperband.max_resource if hyperband is not None else None
        with self.service._reading() as session:
            rows = list(session.scalars(select(TuningTrialRow).where(TuningTrialRow.tuning_job == self.name)))
            parents = parent_trials(session, request)
        self.study, running, self.offset = search.rebuild(self.name, self.config, rows, parents)
        self.created = len(rows)
        limit = self.config.resource_limits.max_number_of_training_jobs
        self.limit = search.grid_left(self.study, self.config, self.offset) if self.config.strategy == "Grid" \
            else (limit or 0)
        if self.config.strategy == "Grid" and limit is not None:
            self.limit = min(self.limit, limit)
        self.live: dict[str, Live] = {}
        self.ends = EndWatch(self.service.runtime.settings.home)
        try:
            for trial_row in rows:
                if trial_row.name in running:
                    live = Live(trial_row.name, running[trial_row.name], steps=json.loads(trial_row.steps))
                    self.live[trial_row.name] = live
                    self.ends.follow(trial_row.name)
                    if trial_row.status == "Pending":
                        self._create(trial_row.name, json.loads(trial_row.params))
            return self._loop()
        finally:
            self.ends.close()

    # -- the loop -------------------------------------------------------------------------------------

    def _loop(self) -> str:
        delay = POLL_MIN
        last_beat = time.monotonic()
        started = time.monotonic()
        max_runtime = self.config.resource_limits.max_runtime_in_seconds
        while True:
            status = self._status()
            if status not in ACTIVE:  # ended (a trial that could not be created failed it), or its row is gone
                return status
            if status == "InProgress" and max_runtime is not None and time.monotonic() - started > max_runtime:
                status = "Stopping"
                self._set_status("Stopping")
            changed = False
            for live in list(self.live.values()):
                changed |= self._follow(live, stopping=status == "Stopping")
            if status == "InProgress":
                changed |= self._fill()
            if not self.live and (status == "Stopping" or self._all_started()):
                return self._finish("Stopped" if status == "Stopping" else None)
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                self._beat()
            delay = POLL_MIN if changed else min(delay * 1.5, POLL_MAX)
            if self.ends.wait(delay):  # a trial's worker says it ended, or is back in its pool: look now
                delay = POLL_MIN

    def _all_started(self) -> bool:
        if self.created >= self.limit:
            return True
        return self.config.strategy == "Grid" and search.grid_exhausted(self.study)

    def _fill(self) -> bool:
        """Start trials while slots are free; whether one was started."""
        started = False
        parallel = self.config.resource_limits.max_parallel_training_jobs
        while len(self.live) < parallel and not self._all_started() and self._status() == "InProgress":
            trial, params = search.ask(self.study, self.config)
            number = trial.number - self.offset
            name = trial_name(self.name, number)
            now = self.service.clock.now()

            def insert(session: Session, name: str = name, number: int = number, params: dict[str, str] = params,
                       now: datetime = now) -> None:
                session.add(TuningTrialRow(name=name, tuning_job=self.name, number=number, params=json.dumps(params),
                                           status="Pending", steps="[]", early_stopped=False, created_at=now))
            self.service._writing(insert)
            self.created += 1
            self.live[name] = Live(name, trial)
            self.ends.follow(name)  # before the job exists, so that its end cannot be missed
            self._create(name, params)
            started = True
        return started

    def _create(self, name: str, params: dict[str, str]) -> None:
        """Create trial ``name``'s training job (or find it made by an earlier driver) and record it started."""
        definition = self.request.training_job_definition
        resources = definition.resource_config.model_copy()
        if resources.keep_alive_period_in_seconds is None:
            resources.keep_alive_period_in_seconds = TRIAL_KEEP_ALIVE_SECONDS
        if resources.cpus is None:
            parallel = self.config.resource_limits.max_parallel_training_jobs
            resources.cpus = max(1, len(os.sched_getaffinity(0)) // parallel)
        try:
            self.training.create_training_job(self.ctx, CreateTrainingJobRequest(
                training_job_name=name, algorithm_specification=definition.algorithm_specification,
                hyper_parameters={**definition.static_hyper_parameters, **params},
                input_data_config=definition.input_data_config, output_data_config=definition.output_data_config,
                resource_config=resources, stopping_condition=definition.stopping_condition,
                checkpoint_config=definition.checkpoint_config, environment=definition.environment,
                tags=[Tag(key=TUNING_TAG, value=self.name)]))
        except ResourceInUse:
            pass  # created by the driver before this one, which died before recording it
        except (InvalidArgument, CrispmlError) as exc:
            reason = f"training job {name} could not be created: {type(exc).__name__}: {exc}"
            self._record(name, lambda row, now: _ended(row, now, "Failed", None, reason, False))
            self.study.tell(self.live.pop(name).trial, state=_state("FAIL"))
            self.ends.forget(name)
            self._fail(reason)
            return
        self._record(name, lambda row, now: _started(row, now))

    def _follow(self, live: Live, *, stopping: bool) -> bool:
        """Look at a running trial once; whether anything changed."""
        if live.ended is not None:  # ended: its slot is freed once its worker is back in the pool
            if self._all_started():  # no trial will want the worker
                self._drop(live)
                return True
            job = self._describe(live.name)
            keep = self.request.training_job_definition.resource_config.keep_alive_period_in_seconds
            if job is None or keep == 0 or job.warm_pool_status is not None \
                    or time.monotonic() - live.ended_at > WARM_WAIT_SECONDS:
                self._drop(live)
                return True
            return False
        job = self._describe(live.name)
        if job is None:
            return False
        new = self._read_steps(live) if self.follow_steps or job.training_job_status in FINISHED else []
        changed = self._take_steps(live, new)
        if job.training_job_status in FINISHED:
            self._end(live, job)
            return True
        if stopping and not live.stopping:
            self._stop(live)
            return True
        return changed

    def _drop(self, live: Live) -> None:
        """Free the slot of a trial that has ended."""
        del self.live[live.name]
        self.ends.forget(live.name)

    def _take_steps(self, live: Live, new: list[float]) -> bool:
        """Report each new objective value to the study at its step, deciding after each whether the trial stops
        there (a pruner's verdict, or Hyperband's MaxResource); values after that decision are not counted."""
        taken = False
        for value in new:
            if live.stopping:
                break
            live.trial.report(value, len(live.steps))
            live.steps.append(value)
            taken = True
            if self.max_resource is not None and len(live.steps) >= self.max_resource:
                self._stop(live)
            elif self.follow_steps and live.trial.should_prune():
                live.early_stopped = True
                self._stop(live)
        if taken:
            steps = json.dumps(live.steps)
            self._record(live.name, lambda row, now: setattr(row, "steps", steps))
        return taken

    def _describe(self, name: str) -> Any:
        try:
            return self.training.describe_training_job(self.ctx, TrainingJobRequest(training_job_name=name))
        except NotFound:
            return None

    def _read_steps(self, live: Live) -> list[float]:
        """The objective values the trial has logged since the last read."""
        if self.pattern is None:
            return []
        new: list[float] = []
        while True:
            page = self.training.get_training_job_logs(self.ctx, GetTrainingJobLogsRequest(
                training_job_name=live.name, next_token=live.cursor))
            for line in page.lines:
                match = self.pattern.search(line.message)
                if match is None:
                    continue
                try:
                    new.append(float(match.group(1) if self.pattern.groups else match.group(0)))
                except (ValueError, IndexError):
                    continue
            moved = page.next_token != (live.cursor or "") and bool(page.lines)
            live.cursor = page.next_token or live.cursor
            if not moved or len(page.lines) < 1000:
                return new

    def _stop(self, live: Live) -> None:
        live.stopping = True
        with contextlib.suppress(InvalidArgument):  # it ended just now
            self.training.stop_training_job(self.ctx, TrainingJobRequest(training_job_name=live.name))
        early = live.early_stopped

        def change(row: TuningTrialRow, now: datetime) -> None:
            row.status = "Stopping"
            row.early_stopped = early
        self._record(live.name, change)

    def _end(self, live: Live, job: Any) -> None:
        assert self.config.hyper_parameter_tuning_job_objective is not None
        metric = self.config.hyper_parameter_tuning_job_objective.metric_name
        final = [m.value for m in job.final_metric_data_list if m.metric_name == metric]
        value = final[-1] if final else (live.steps[-1] if live.steps else None)
        if live.stopping and live.steps:  # stopped at a step it was judged on: that step's value is its objective
            value = live.steps[-1]
        status = job.training_job_status
        if status == "Failed":
            value = None
        early = live.early_stopped and status == "Stopped"
        if value is None:
            self.study.tell(live.trial, state=_state("FAIL"))
        elif early:
            self.study.tell(live.trial, state=_state("PRUNED"))
        else:
            self.study.tell(live.trial, value)
        self._record(live.name, lambda row, now: _ended(row, now, status, value, job.failure_reason, early))
        live.ended = {"status": status}
        live.ended_at = time.monotonic()

    # -- the job's row ----------------------------------------------------------------------------------

    def _take_over(self) -> TuningJobRow:
        owner = process_owner()

        def change(row: TuningJobRow, now: datetime) -> TuningJobRow:
            if row.status in ACTIVE:
                row.owner = owner
                row.heartbeat_at = now
                row.drivers += 1
            return row
        return self.service._update(self.name, change)  # type: ignore[no-any-return]

    def _status(self) -> str:
        with self.service._reading() as session:
            row = session.get(TuningJobRow, self.name)
            return row.status if row is not None else "Failed"

    def _set_status(self, status: str) -> None:
        def change(row: TuningJobRow, now: datetime) -> None:
            row.status = status
            row.modified_at = now
        self.service._update(self.name, change)

    def _beat(self) -> None:
        self.service._update(self.name, lambda row, now: setattr(row, "heartbeat_at", now))

    def _record(self, trial: str, change: Any) -> None:
        def work(session: Session) -> None:
            row = session.get(TuningTrialRow, trial, with_for_update=True)
            if row is not None:
                change(row, self.service.clock.now())
        self.service._writing(work)

    def _fail(self, reason: str) -> None:
        for live in list(self.live.values()):
            self._stop(live)
        self._finish("Failed", reason)

    def _finish(self, forced: str | None, reason: str | None = None) -> str:
        with self.service._reading() as session:
            rows = list(session.scalars(select(TuningTrialRow).where(TuningTrialRow.tuning_job == self.name)))
        status = forced or "Completed"
        if status == "Completed" and rows and all(r.objective is None for r in rows):
            status = "Failed"
            reason = "no training job of the tuning job reported the objective metric; see their failure reasons"
        self.service._update(self.name, lambda row, now: close_job(row, now, status, reason))
        return status


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def _started(row: TuningTrialRow, now: datetime) -> None:
    if row.status == "Pending":
        row.status = "InProgress"
        row.started_at = now


def _ended(row: TuningTrialRow, now: datetime, status: str, value: float | None, reason: str | None,
           early: bool) -> None:
    row.status = status
    row.objective = value
    row.failure_reason = reason
    row.early_stopped = early
    row.ended_at = now
