"""Shared machinery of the training operations and of the worker that drives a job: lookups with helpful
misses, the row → entity mapping, status changes, and closing jobs whose worker died.

A job records its worker (``owner``, ``host:pid``) and a heartbeat; until it
is handed to a worker, the owner is the process handing it out
(:func:`handing_out`: CreateTrainingJob's caller, or the reader that
restarts it). When an operation reads a job that is ``InProgress`` or
``Stopping`` and finds that owner gone — on this host by its pid, elsewhere
by a heartbeat older than :data:`STALE_AFTER` — it settles it, so nothing
stays ``InProgress`` for ever:

- a job ``InProgress`` that no worker has taken yet (:func:`awaiting_worker`)
  lost nothing when the process handing it out died (a tuning job's driver
  killed as it started a trial): it is handed to a worker now, as if created
  just then;
- a job with a ``CheckpointConfig`` that was not being stopped is resumed by
  a new worker (secondary status ``Interrupted``, then ``Restarting``; its
  checkpoints are restored), at most :data:`MAX_ATTEMPTS` times;
- any other is ``Failed`` (or ``Stopped``, if it was being stopped) with the
  reason.

A job handed out twice (the process that handed it to a worker died before
recording that worker, and a reader handed it out again) is still run once:
a worker takes a job only while it awaits one, in one locked update, and the
other worker leaves it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.names import crn
from crispml.core.owners import owner_alive, process_owner
from crispml.services.training.entities import (
    ACTIVE,
    CrossValidationResults,
    Lineage,
    MetricData,
    ModelArtifacts,
    SecondaryStatusTransition,
    TrainingJob,
    TrainingJobSummary,
    WarmPoolStatus,
)
from crispml.services.training.errors import ResourceNotFound
from crispml.services.training.specs import CreateTrainingJobRequest
from crispml.services.training.store import TrainingJobRow
from crispml.spine.operations import RuntimeAccess

#: A job on another host is taken for dead when its heartbeat is older than this.
STALE_AFTER = timedelta(minutes=2)
#: How many times a job with checkpoints is started again after its worker died.
MAX_ATTEMPTS = 3
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
#: The token of a job's owner while the process handing the job out holds it (no worker named yet).
HANDING_OUT = "handing-out"


def job_crn(name: str | None) -> str:
    return crn("training", f"training-job/{name or '*'}")


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name.lower()}"


def definition_of(row: TrainingJobRow) -> CreateTrainingJobRequest:
    return CreateTrainingJobRequest.model_validate({**json.loads(row.definition), "training_job_name": row.name})


def transitions_of(row: TrainingJobRow) -> list[SecondaryStatusTransition]:
    return [SecondaryStatusTransition.model_validate(t) for t in json.loads(row.transitions)]


def move(row: TrainingJobRow, secondary: str, message: str, now: datetime, *, status: str | None = None) -> None:
    """Record a new secondary status (closing the current one) and, optionally, a new status."""
    transitions = json.loads(row.transitions)
    if transitions and transitions[-1].get("end_time") is None:
        transitions[-1]["end_time"] = now.isoformat()
    transitions.append({"status": secondary, "start_time": now.isoformat(), "end_time": None,
                        "status_message": message})
    if secondary in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
        transitions[-1]["end_time"] = now.isoformat()
    row.transitions = json.dumps(transitions)
    row.secondary_status = secondary
    if status is not None:
        row.status = status
    row.modified_at = now


def handing_out() -> str:
    """This process as the owner of a job it is handing to a worker (``host:pid:handing-out``)."""
    return process_owner(HANDING_OUT)


def was_handing_out(owner: str | None) -> bool:
    """Whether ``owner`` is a process handing a job out (not the worker it was handed to)."""
    return owner is not None and owner.endswith(f":{HANDING_OUT}")


def awaiting_worker(row: TrainingJobRow) -> bool:
    """Whether no worker has taken job ``row`` since it was created or restarted: a worker's first step is
    ``Downloading``, so the job awaits one while its latest of ``Starting``, ``Restarting`` and ``Downloading``
    is not ``Downloading`` (a stop asked meanwhile does not change that)."""
    for transition in reversed(json.loads(row.transitions)):
        if transition["status"] == "Downloading":
            return False
        if transition["status"] in ("Starting", "Restarting"):
            return True
    return False


def entity(row: TrainingJobRow, now: datetime) -> TrainingJob:
    request = definition_of(row)
    end = row.ended_at
    seconds = int(((end or now) - row.started_at).total_seconds()) if row.started_at else None
    return TrainingJob(
        training_job_name=row.name,
        training_job_arn=job_arn(row.name),
        training_job_status=row.status,  # type: ignore[arg-type]
        secondary_status=row.secondary_status,  # type: ignore[arg-type]
        secondary_status_transitions=transitions_of(row),
        failure_reason=row.failure_reason,
        algorithm_specification=request.algorithm_specification,
        hyper_parameters=request.hyper_parameters,
        input_data_config=request.input_data_config,
        output_data_config=request.output_data_config,
        resource_config=request.resource_config,
        stopping_condition=request.stopping_condition,
        checkpoint_config=request.checkpoint_config,
        cross_validation=request.cross_validation,
        evaluation=request.evaluation,
        environment=request.environment,
        model_artifacts=ModelArtifacts(s3_model_artifacts=row.model_artifacts) if row.model_artifacts else None,
        final_metric_data_list=[MetricData.model_validate(m) for m in json.loads(row.final_metrics)],
        cross_validation_results=(CrossValidationResults.model_validate_json(row.cross_validation_results)
                                  if row.cross_validation_results else None),
        warm_pool_status=WarmPoolStatus.model_validate_json(row.warm_pool_status) if row.warm_pool_status else None,
        lineage=Lineage.model_validate_json(row.lineage),
        creation_time=row.created_at,
        training_start_time=row.started_at,
        training_end_time=end,
        last_modified_time=row.modified_at,
        training_time_in_seconds=seconds if end else None,
        billable_time_in_seconds=seconds if end else None,
        log_stream=row.log_stream,
        peak_memory_in_mb=row.peak_memory_mb,
    )


def summary(row: TrainingJobRow) -> TrainingJobSummary:
    return TrainingJobSummary(
        training_job_name=row.name, training_job_arn=job_arn(row.name),
        training_job_status=row.status,  # type: ignore[arg-type]
        secondary_status=row.secondary_status,  # type: ignore[arg-type]
        creation_time=row.created_at, training_end_time=row.ended_at, last_modified_time=row.modified_at,
        warm_pool_status=WarmPoolStatus.model_validate_json(row.warm_pool_status) if row.warm_pool_status else None)


class TrainingCore(RuntimeAccess):
    """Helpers shared by the training operations and the worker."""

    #: Starts a worker for a job (set by the service; the worker module knows how).
    _launch: Callable[[str], None]

    @staticmethod
    def _job(session: Session, name: str, *, lock: bool = False) -> TrainingJobRow:
        row = session.get(TrainingJobRow, name, with_for_update=lock)
        if row is None:
            names = session.scalars(select(TrainingJobRow.name)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ResourceNotFound(f"training job {name!r} does not exist{hint}; list them with "
                                   "'crispml training list-training-jobs'")
        return row

    def _update(self, name: str, change: Callable[[TrainingJobRow, datetime], Any]) -> Any:
        """Apply ``change`` to job ``name``'s row in one write transaction (the row locked)."""
        def work(session: Session) -> Any:
            row = self._job(session, name, lock=True)
            return change(row, self.clock.now())
        return self._writing(work)

    def _end_with_fault(self, name: str, reason: str) -> None:
        """End job ``name`` Failed with ``reason`` if it has not ended."""
        def change(row: TrainingJobRow, now: datetime) -> None:
            if row.status in ACTIVE:
                row.failure_reason = reason
                row.ended_at = now
                row.owner = None
                move(row, "Failed", reason, now, status="Failed")
        self._update(name, change)

    def _settle(self, rows: list[TrainingJobRow]) -> list[TrainingJobRow]:
        """Close or resume the active jobs among ``rows`` whose worker is gone; the rows as they are now."""
        now = self.clock.now()
        dead = [r.name for r in rows if r.status in ACTIVE
                and not owner_alive(r.owner, heartbeat_at=r.heartbeat_at, now=now, stale_after=STALE_AFTER)]
        if not dead:
            return rows
        resume: list[str] = []

        def work(session: Session) -> None:
            for name in dead:
                row = self._job(session, name, lock=True)
                if row.status not in ACTIVE or owner_alive(row.owner, heartbeat_at=row.heartbeat_at, now=now,
                                                           stale_after=STALE_AFTER):
                    continue  # settled or taken over meanwhile
                if row.status == "InProgress" and awaiting_worker(row) and was_handing_out(row.owner):
                    row.owner = handing_out()  # this process, until it has handed the job to a worker
                    row.heartbeat_at = now
                    resume.append(name)
                    continue
                gone = (f"the worker process running it ({row.owner}) ended without finishing it (its errors, if "
                        "any, are in <home>/training/workers.log)")
                request = definition_of(row)
                if row.status == "InProgress" and request.checkpoint_config is not None \
                        and row.attempts < MAX_ATTEMPTS:
                    move(row, "Interrupted", gone, now)
                    move(row, "Restarting", "restarting from the last checkpoint", now)
                    row.owner = handing_out()  # this process, until it has handed the job to a worker
                    row.heartbeat_at = now
                    resume.append(name)
                    continue
                stopped = row.status == "Stopping"
                row.failure_reason = None if stopped else f"{gone} (was it killed?)"
                move(row, "Stopped" if stopped else "Failed", row.failure_reason or "stopped",
                     now, status="Stopped" if stopped else "Failed")
                row.ended_at = now
                row.owner = None

        self._writing(work)
        for name in resume:
            self._launch(name)
        with self._reading() as session:
            names = [r.name for r in rows]
            fresh = {r.name: r for r in session.scalars(select(TrainingJobRow).where(TrainingJobRow.name.in_(names)))}
        return [fresh.get(r.name, r) for r in rows]
