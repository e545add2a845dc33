"""Tuning value objects: SageMaker's automatic model tuning shapes in snake_case (AWS PascalCase accepted).

The request shapes (``ParameterRanges``, ``HyperParameterTuningJobObjective``,
``ResourceLimits``, ``HyperParameterTrainingJobDefinition`` …) come back
unchanged in ``DescribeHyperParameterTuningJob``, so they are defined once
here; the checks a request must pass live in ``specs.py``. The training job
definition reuses the training service's shapes (``AlgorithmSpecification``,
``Channel``, ``ResourceConfig`` …): a trial is a training job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crispml.services.training.service import (
    AlgorithmSpecification,
    Channel,
    CheckpointConfig,
    OutputDataConfig,
    ResourceConfig,
    StoppingCondition,
    Tag,
)
from crispml.spine.models import Shape

TuningJobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
Strategy = Literal["Grid", "Random", "Bayesian", "Hyperband"]
ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
ObjectiveType = Literal["Minimize", "Maximize"]
ObjectiveStatus = Literal["Succeeded", "Pending", "Failed"]
TrialStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
#: Statuses a tuning job can still leave.
ACTIVE = ("InProgress", "Stopping")


class IntegerParameterRange(Shape):
    name: str = Field(min_length=1, max_length=256)
    min_value: str = Field(description="The smallest value, as a string (as on AWS).")
    max_value: str
    scaling_type: ScalingType = "Auto"


class ContinuousParameterRange(Shape):
    name: str = Field(min_length=1, max_length=256)
    min_value: str
    max_value: str
    scaling_type: ScalingType = "Auto"


class CategoricalParameterRange(Shape):
    name: str = Field(min_length=1, max_length=256)
    values: list[str] = Field(min_length=1, max_length=30)


class ParameterRanges(Shape):
    integer_parameter_ranges: list[IntegerParameterRange] = Field(default_factory=list)
    continuous_parameter_ranges: list[ContinuousParameterRange] = Field(default_factory=list)
    categorical_parameter_ranges: list[CategoricalParameterRange] = Field(default_factory=list)


class HyperParameterTuningJobObjective(Shape):
    type: ObjectiveType
    metric_name: str = Field(min_length=1, max_length=255)


class ResourceLimits(Shape):
    max_number_of_training_jobs: int | None = Field(
        None, ge=1, le=750, description="Trials in all (Grid: default and at most the grid's size).")
    max_parallel_training_jobs: int = Field(1, ge=1, le=100)
    max_runtime_in_seconds: int | None = Field(None, ge=120, le=15_768_000)


class HyperbandStrategyConfig(Shape):
    min_resource: int | None = Field(None, ge=1, le=20_000, description="Fewest epochs (steps) before a stop.")
    max_resource: int | None = Field(None, ge=1, le=20_000, description="Most epochs (steps) a trial runs.")


class HyperParameterTuningJobStrategyConfig(Shape):
    hyperband_strategy_config: HyperbandStrategyConfig | None = None


class HyperParameterTuningJobConfig(Shape):
    strategy: Strategy = "Bayesian"
    strategy_config: HyperParameterTuningJobStrategyConfig | None = None
    hyper_parameter_tuning_job_objective: HyperParameterTuningJobObjective | None = None
    resource_limits: ResourceLimits
    parameter_ranges: ParameterRanges = Field(default_factory=ParameterRanges)
    training_job_early_stopping_type: Literal["Off", "Auto", "OFF", "AUTO"] = "Off"
    random_seed: int | None = Field(None, ge=0, le=2**31 - 1)

    @property
    def early_stopping(self) -> bool:
        return self.training_job_early_stopping_type.upper() == "AUTO"


class HyperParameterAlgorithmSpecification(AlgorithmSpecification):
    """The trials' algorithm: a built-in (``AlgorithmName``) or a framework image for a script."""


class HyperParameterTrainingJobDefinition(Shape):
    definition_name: str | None = Field(None, max_length=64)
    algorithm_specification: HyperParameterAlgorithmSpecification
    static_hyper_parameters: dict[str, str] = Field(default_factory=dict)
    input_data_config: list[Channel] = Field(default_factory=list, max_length=20)
    output_data_config: OutputDataConfig
    resource_config: ResourceConfig = Field(default_factory=ResourceConfig)
    stopping_condition: StoppingCondition = Field(default_factory=StoppingCondition)
    checkpoint_config: CheckpointConfig | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    role_arn: str | None = None


class ParentHyperParameterTuningJob(Shape):
    hyper_parameter_tuning_job_name: str = Field(min_length=1, max_length=32)


class HyperParameterTuningJobWarmStartConfig(Shape):
    parent_hyper_parameter_tuning_jobs: list[ParentHyperParameterTuningJob] = Field(min_length=1, max_length=5)
    warm_start_type: Literal["IdenticalDataAndAlgorithm", "TransferLearning"]


class TrainingJobStatusCounters(BaseModel):
    completed: int = 0
    in_progress: int = 0
    retryable_error: int = 0
    non_retryable_error: int = 0
    stopped: int = 0


class ObjectiveStatusCounters(BaseModel):
    succeeded: int = 0
    pending: int = 0
    failed: int = 0


class FinalHyperParameterTuningJobObjectiveMetric(BaseModel):
    type: ObjectiveType | None = None
    metric_name: str
    value: float


class HyperParameterTrainingJobSummary(BaseModel):
    """A trial, as ListTrainingJobsForHyperParameterTuningJob and BestTrainingJob show it."""

    training_job_name: str
    training_job_arn: str
    tuning_job_name: str
    creation_time: datetime
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    training_job_status: TrialStatus
    tuned_hyper_parameters: dict[str, str]
    failure_reason: str | None = None
    final_hyper_parameter_tuning_job_objective_metric: FinalHyperParameterTuningJobObjectiveMetric | None = None
    objective_status: ObjectiveStatus
    early_stopped: bool = Field(False, description="crispml: stopped by early stopping (AUTO or Hyperband).")
    objective_steps: int = Field(0, description="crispml: how many objective values the trial reported.")


class HyperParameterTuningJob(BaseModel):
    """What DescribeHyperParameterTuningJob returns."""

    hyper_parameter_tuning_job_name: str
    hyper_parameter_tuning_job_arn: str
    hyper_parameter_tuning_job_config: HyperParameterTuningJobConfig
    training_job_definition: HyperParameterTrainingJobDefinition
    warm_start_config: HyperParameterTuningJobWarmStartConfig | None = None
    hyper_parameter_tuning_job_status: TuningJobStatus
    creation_time: datetime
    hyper_parameter_tuning_end_time: datetime | None = None
    last_modified_time: datetime
    training_job_status_counters: TrainingJobStatusCounters
    objective_status_counters: ObjectiveStatusCounters
    best_training_job: HyperParameterTrainingJobSummary | None = None
    overall_best_training_job: HyperParameterTrainingJobSummary | None = None
    failure_reason: str | None = None
    tags: list[Tag] = Field(default_factory=list)


class HyperParameterTuningJobSummary(BaseModel):
    hyper_parameter_tuning_job_name: str
    hyper_parameter_tuning_job_arn: str
    hyper_parameter_tuning_job_status: TuningJobStatus
    strategy: Strategy
    creation_time: datetime
    hyper_parameter_tuning_end_time: datetime | None = None
    last_modified_time: datetime
    training_job_status_counters: TrainingJobStatusCounters
    objective_status_counters: ObjectiveStatusCounters
    resource_limits: ResourceLimits
