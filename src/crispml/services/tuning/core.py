"""What the tuning operations and the driver share: a job's request from its row, the objective's regex, and
a warm start's parent trials."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.services.training.service import builtin_algorithm
from crispml.services.tuning import search
from crispml.services.tuning.entities import ACTIVE
from crispml.services.tuning.specs import CreateHyperParameterTuningJobRequest
from crispml.services.tuning.store import TuningJobRow, TuningTrialRow


def definition_of(row: TuningJobRow) -> CreateHyperParameterTuningJobRequest:
    return CreateHyperParameterTuningJobRequest.model_validate(
        {**json.loads(row.definition), "hyper_parameter_tuning_job_name": row.name})



def parent_trials(session: Session, request: CreateHyperParameterTuningJobRequest) -> list[search.Seen]:
    """The finished trials with an objective of a warm start's parents, as they seed the search."""
    if request.warm_start_config is None:
        return []
    names = [p.hyper_parameter_tuning_job_name for p in request.warm_start_config.parent_hyper_parameter_tuning_jobs]
    rows = session.scalars(select(TuningTrialRow).where(TuningTrialRow.tuning_job.in_(names),
                                                        TuningTrialRow.objective.is_not(None),
                                                        TuningTrialRow.ended_at.is_not(None))
                           .order_by(TuningTrialRow.tuning_job, TuningTrialRow.number)).all()
    return [search.Seen(json.loads(r.params), float(r.objective), json.loads(r.steps))  # type: ignore[arg-type]
            for r in rows]



def objective_regex(request: CreateHyperParameterTuningJobRequest) -> str | None:
    """The regex of the objective metric among the algorithm's metric definitions and the job's own."""
    assert request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective is not None
    metric = request.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective.metric_name
    spec = request.training_job_definition.algorithm_specification
    definitions = [(d.name, d.regex) for d in spec.metric_definitions]
    if spec.algorithm_name is not None:
        definitions = [*builtin_algorithm(spec.algorithm_name).metric_definitions, *definitions]
    return next((regex for name, regex in definitions if name == metric), None)



def close_job(row: TuningJobRow, now: datetime, status: str, reason: str | None) -> None:
    """End a job that is still active: ``status`` (Failed, Stopped, …) with ``reason``, at ``now``."""
    if row.status in ACTIVE:
        row.status = status
        row.failure_reason = reason
        row.ended_at = now
        row.modified_at = now
        row.owner = None
