"""The tuning service (SageMaker automatic model tuning): one class combining the operations.

- ``CreateHyperParameterTuningJob``, ``DescribeHyperParameterTuningJob``,
  ``ListHyperParameterTuningJobs``, ``StopHyperParameterTuningJob`` and
  ``ListTrainingJobsForHyperParameterTuningJob`` as in SageMaker
  (``jobs.py``), with its strategies (``Grid``, ``Random``, ``Bayesian``,
  ``Hyperband``), ranges and scaling types, ``AUTO`` early stopping, warm
  start and limits (``specs.py``).
- The search is Optuna's (``search.py``); each trial is a training job made
  through the training service's operations, on warm workers; a driver
  process runs the job (``driver.py``) and a new one resumes it if it dies.

It does not run trials on several hosts, nor AWS's ``TuningJobCompletionCriteria``
(a target objective value) or per-definition ``TrainingJobDefinitions`` (one
definition per job).
"""

from __future__ import annotations

from crispml.services.tuning.entities import (
    CategoricalParameterRange,
    ContinuousParameterRange,
    FinalHyperParameterTuningJobObjectiveMetric,
    HyperParameterTrainingJobDefinition,
    HyperParameterTrainingJobSummary,
    HyperParameterTuningJob,
    HyperParameterTuningJobConfig,
    HyperParameterTuningJobObjective,
    HyperParameterTuningJobWarmStartConfig,
    IntegerParameterRange,
    ParameterRanges,
    ResourceLimits,
)
from crispml.services.tuning.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from crispml.services.tuning.jobs import TuningOps
from crispml.services.tuning.specs import (
    CreateHyperParameterTuningJobRequest,
    ListHyperParameterTuningJobsRequest,
    ListTrainingJobsForHyperParameterTuningJobRequest,
    TuningJobRequest,
)
from crispml.spine.operations import Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CategoricalParameterRange",
    "ContinuousParameterRange",
    "CreateHyperParameterTuningJobRequest",
    "FinalHyperParameterTuningJobObjectiveMetric",
    "HyperParameterTrainingJobDefinition",
    "HyperParameterTrainingJobSummary",
    "HyperParameterTuningJob",
    "HyperParameterTuningJobConfig",
    "HyperParameterTuningJobObjective",
    "HyperParameterTuningJobWarmStartConfig",
    "IntegerParameterRange",
    "ListHyperParameterTuningJobsRequest",
    "ListTrainingJobsForHyperParameterTuningJobRequest",
    "ParameterRanges",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceLimits",
    "ResourceNotFound",
    "TuningJobRequest",
    "TuningService",
    "ValidationException",
]


class TuningService(Service, TuningOps):
    name = "tuning"

    def drive(self, name: str) -> str:
        """Drive tuning job ``name`` in this process until it ends (for the driver entry point,
        ``python -m crispml.tuningworker``); its final status."""
        from crispml.services.tuning.driver import Driver

        return Driver(self, name).drive()
