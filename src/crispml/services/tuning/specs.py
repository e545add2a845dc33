"""Tuning requests and responses: SageMaker's operations and fields, in snake_case.

Checked here, once, with SageMaker's limits and messages: tuning job names are
1-32 letters, digits and hyphens; every range has min ≤ max, numbers where
numbers are due, ``Logarithmic`` scaling only above 0 and
``ReverseLogarithmic`` only within [0, 1) on continuous ranges; at most 30
categorical ranges and 100 hyperparameters in all (ranges and static ones,
never the same name twice); ``Grid`` takes categorical ranges only;
``Hyperband`` takes no ``AUTO`` early stopping and its ``MinResource`` is at
most its ``MaxResource``; ``MaxParallelTrainingJobs`` is at most
``MaxNumberOfTrainingJobs``. What needs the platform — does the algorithm emit
the objective metric, do the parents of a warm start exist, is the name taken
— is checked by the operation, before any trial starts.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from crispml.services.training.service import Tag
from crispml.services.tuning.entities import (
    HyperParameterTrainingJobDefinition,
    HyperParameterTrainingJobSummary,
    HyperParameterTuningJob,
    HyperParameterTuningJobConfig,
    HyperParameterTuningJobSummary,
    HyperParameterTuningJobWarmStartConfig,
    TrialStatus,
    TuningJobStatus,
)
from crispml.services.tuning.errors import ValidationException
from crispml.spine.models import Request, Response

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
#: AWS's limits on a tuning job's hyperparameters.
MAX_CATEGORICAL_RANGES = 30
MAX_HYPERPARAMETERS = 100
#: Trials when MaxNumberOfTrainingJobs is not given (AWS's default quota is far higher; so is the bill).
DEFAULT_MAX_TRAINING_JOBS = 10


def check_tuning_job_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValidationException(
            f"hyperparameter tuning job name {name!r} must be 1-32 letters, digits or hyphens, starting and ending "
            "with a letter or digit")
    return name


TuningJobName = Annotated[str, AfterValidator(check_tuning_job_name)]


def _number(text: str, what: str, *, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValidationException(f"{what} {text!r} is not {'an integer' if integer else 'a number'}") from None
    if not math.isfinite(value):
        raise ValidationException(f"{what} {text!r} must be finite")
    return float(value)


class CreateHyperParameterTuningJobRequest(Request):
    hyper_parameter_tuning_job_name: TuningJobName = Field(description="1-32 letters, digits or hyphens; unique.")
    hyper_parameter_tuning_job_config: HyperParameterTuningJobConfig
    training_job_definition: HyperParameterTrainingJobDefinition
    warm_start_config: HyperParameterTuningJobWarmStartConfig | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _whole(self) -> CreateHyperParameterTuningJobRequest:
        config = self.hyper_parameter_tuning_job_config
        ranges = config.parameter_ranges
        if config.hyper_parameter_tuning_job_objective is None:
            raise ValidationException("HyperParameterTuningJobObjective is required: the MetricName to tune and its "
                                      "Type (Minimize or Maximize)")
        names: list[str] = []
        for kind, items, integer in (("IntegerParameterRanges", ranges.integer_parameter_ranges, True),
                                     ("ContinuousParameterRanges", ranges.continuous_parameter_ranges, False)):
            for r in items:
                what = f"{kind} {r.name!r}"
                low = _number(r.min_value, f"{what}: MinValue", integer=integer)
                high = _number(r.max_value, f"{what}: MaxValue", integer=integer)
                if low > high:
                    raise ValidationException(f"{what}: MinValue {r.min_value} is greater than MaxValue "
                                              f"{r.max_value}; give MinValue <= MaxValue")
                if r.scaling_type == "Logarithmic" and low <= 0:
                    raise ValidationException(f"{what}: Logarithmic scaling needs MinValue > 0, not {r.min_value}; "
                                              "use Linear scaling for a range from 0")
                if r.scaling_type == "ReverseLogarithmic":
                    if integer:
                        raise ValidationException(f"{what}: ReverseLogarithmic scaling is for continuous ranges only")
                    if low < 0 or high >= 1:
                        raise ValidationException(f"{what}: ReverseLogarithmic scaling needs 0 <= MinValue <= "
                                                  f"MaxValue < 1, not [{r.min_value}, {r.max_value}]")
                names.append(r.name)
        for c in ranges.categorical_parameter_ranges:
            if len(set(c.values)) != len(c.values):
                raise ValidationException(f"CategoricalParameterRanges {c.name!r}: values must be unique")
            names.append(c.name)
        if len(ranges.categorical_parameter_ranges) > MAX_CATEGORICAL_RANGES:
            raise ValidationException(f"at most {MAX_CATEGORICAL_RANGES} CategoricalParameterRanges, not "
                                      f"{len(ranges.categorical_parameter_ranges)}")
        if not names:
            raise ValidationException("ParameterRanges is empty: give at least one integer, continuous or "
                                      "categorical range to tune")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValidationException(f"hyperparameter(s) {', '.join(twice)} given in more than one range")
        static = self.training_job_definition.static_hyper_parameters
        both = sorted(set(names) & set(static))
        if both:
            raise ValidationException(f"hyperparameter(s) {', '.join(both)} are both tuned (ParameterRanges) and "
                                      "static (StaticHyperParameters); give each once")
        if len(names) + len(static) > MAX_HYPERPARAMETERS:
            raise ValidationException(f"at most {MAX_HYPERPARAMETERS} hyperparameters in all (ranges and static), "
                                      f"not {len(names) + len(static)}")
        limits = config.resource_limits
        if config.strategy == "Grid" and (ranges.integer_parameter_ranges or ranges.continuous_parameter_ranges):
            raise ValidationException("the Grid strategy takes CategoricalParameterRanges only; use Random or "
                                      "Bayesian for integer and continuous ranges")
        hyperband = (config.strategy_config.hyperband_strategy_config
                     if config.strategy_config is not None else None)
        if config.strategy == "Hyperband":
            if config.early_stopping:
                raise ValidationException("TrainingJobEarlyStoppingType AUTO cannot be used with the Hyperband "
                                          "strategy, which stops trials itself; set it to OFF")
            if hyperband is not None and hyperband.min_resource is not None and hyperband.max_resource is not None \
                    and hyperband.min_resource > hyperband.max_resource:
                raise ValidationException(f"HyperbandStrategyConfig: MinResource {hyperband.min_resource} is "
                                          f"greater than MaxResource {hyperband.max_resource}")
        elif hyperband is not None:
            raise ValidationException(f"HyperbandStrategyConfig is for the Hyperband strategy, not "
                                      f"{config.strategy}")
        if config.strategy != "Grid" and limits.max_number_of_training_jobs is None:
            limits.max_number_of_training_jobs = DEFAULT_MAX_TRAINING_JOBS
        if limits.max_number_of_training_jobs is not None \
                and limits.max_parallel_training_jobs > limits.max_number_of_training_jobs:
            raise ValidationException(f"MaxParallelTrainingJobs ({limits.max_parallel_training_jobs}) is greater "
                                      f"than MaxNumberOfTrainingJobs ({limits.max_number_of_training_jobs})")
        config.training_job_early_stopping_type = "Auto" if config.early_stopping else "Off"
        return self


class CreateHyperParameterTuningJobResponse(Response):
    hyper_parameter_tuning_job_arn: str


class TuningJobRequest(Request):
    hyper_parameter_tuning_job_name: TuningJobName


class DescribeHyperParameterTuningJobResponse(HyperParameterTuningJob, Response):
    """A tuning job, as DescribeHyperParameterTuningJob returns it."""


class ListHyperParameterTuningJobsRequest(Request):
    name_contains: str | None = Field(None, max_length=32)
    status_equals: TuningJobStatus | None = None
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None
    sort_by: Literal["Name", "Status", "CreationTime"] = "Name"
    sort_order: Literal["Ascending", "Descending"] = "Ascending"
    max_results: int = Field(100, ge=1, le=100)
    next_token: str | None = None


class ListHyperParameterTuningJobsResponse(Response):
    hyper_parameter_tuning_job_summaries: list[HyperParameterTuningJobSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"hyper_parameter_tuning_job_summaries": [
        "hyper_parameter_tuning_job_name", "hyper_parameter_tuning_job_status", "strategy", "creation_time",
        "hyper_parameter_tuning_end_time"]}


class ListTrainingJobsForHyperParameterTuningJobRequest(Request):
    hyper_parameter_tuning_job_name: TuningJobName
    status_equals: TrialStatus | None = None
    sort_by: Literal["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"] = "Name"
    sort_order: Literal["Ascending", "Descending"] = "Ascending"
    max_results: int = Field(100, ge=1, le=100)
    next_token: str | None = None


class ListTrainingJobsForHyperParameterTuningJobResponse(Response):
    training_job_summaries: list[HyperParameterTrainingJobSummary]
    next_token: str | None = None

    table_columns: ClassVar[dict[str, list[str]]] = {"training_job_summaries": [
        "training_job_name", "training_job_status", "objective_status", "creation_time", "training_end_time"]}


class EmptyResponse(Response):
    """The answer of an operation that returns nothing (StopHyperParameterTuningJob)."""
