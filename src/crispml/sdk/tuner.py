"""A hyperparameter tuner in the SageMaker Python SDK's shape: ``HyperparameterTuner(...).fit(inputs)``.

::

    from crispml.sdk.estimator import Estimator
    from crispml.sdk.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    xgb = Estimator(client, algorithm_name="xgboost", output_path="lake://models/churn/",
                    hyperparameters={"num_round": 50, "objective": "binary:logistic", "eval_metric": "auc"})
    tuner = HyperparameterTuner(xgb, "validation:auc", {"eta": ContinuousParameter(0.01, 0.5),
                                                         "max_depth": IntegerParameter(2, 8)},
                                max_jobs=20, max_parallel_jobs=2)
    tuner.fit({"train": "lake://data/churn/train/", "validation": "lake://data/churn/validation/"})
    tuner.best_training_job()   # the best trial's training job name
    tuner.analytics()           # a pandas DataFrame of the trials

It builds the ``CreateHyperParameterTuningJob`` request the SageMaker SDK
would build — the estimator's training job as ``TrainingJobDefinition``
(its hyperparameters static, the tuned ones taken out), the ranges with their
scaling types, the objective, strategy, limits, early stopping, seed and warm
start — and calls the operation through the client, so a job made here is the
same job the CLI or REST would make. Tuning job names are
``<base>-<yymmdd-HHMMSS>`` cut to 32 characters, as the SDK names them.

``analytics()`` returns the DataFrame itself (the SageMaker SDK returns an
object whose ``dataframe()`` gives it): one row per trial, its tuned
hyperparameters as columns, then ``TrainingJobName``,
``TrainingJobStatus``, ``FinalObjectiveValue``, ``TrainingStartTime``,
``TrainingEndTime``, ``TrainingElapsedTimeSeconds``, as the SDK's.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crispml.core.errors import Conflict, InvalidArgument
from crispml.sdk.estimator import Estimator, Inputs
from crispml.sdk.jobs import UnexpectedStatusException

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CategoricalParameter", "ContinuousParameter", "HyperparameterTuner", "IntegerParameter",
           "WarmStartConfig"]

_MAX_NAME = 32
#: Shortest and longest sleep between two polls of a tuning job.
MIN_DELAY, MAX_DELAY = 0.2, 2.0


@dataclass(frozen=True)
class IntegerParameter:
    """An integer range (``sagemaker.tuner.IntegerParameter``)."""

    min_value: int
    max_value: int
    scaling_type: str = "Auto"

    def as_range(self, name: str) -> dict[str, str]:
        return {"Name": name, "MinValue": str(self.min_value), "MaxValue": str(self.max_value),
                "ScalingType": self.scaling_type}


@dataclass(frozen=True)
class ContinuousParameter:
    """A continuous range (``sagemaker.tuner.ContinuousParameter``)."""

    min_value: float
    max_value: float
    scaling_type: str = "Auto"

    def as_range(self, name: str) -> dict[str, str]:
        return {"Name": name, "MinValue": str(self.min_value), "MaxValue": str(self.max_value),
                "ScalingType": self.scaling_type}


@dataclass(frozen=True)
class CategoricalParameter:
    """A list of values (``sagemaker.tuner.CategoricalParameter``)."""

    values: list[Any]

    def as_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": [str(v).lower() if isinstance(v, bool) else str(v) for v in self.values]}


@dataclass(frozen=True)
class WarmStartConfig:
    """``sagemaker.tuner.WarmStartConfig``: parent tuning jobs whose trials seed the search."""

    warm_start_type: str
    parents: list[str]

    def as_request(self) -> dict[str, Any]:
        return {"WarmStartType": self.warm_start_type,
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents]}


Range = IntegerParameter | ContinuousParameter | CategoricalParameter


class HyperparameterTuner:
    """Tunes an estimator's hyperparameters with a tuning job (``sagemaker.tuner.HyperparameterTuner``)."""

    def __init__(self, estimator: Estimator, objective_metric_name: str, hyperparameter_ranges: dict[str, Range],
                 metric_definitions: list[dict[str, str]] | None = None, strategy: str = "Bayesian",
                 objective_type: str = "Maximize", max_jobs: int | None = None, max_parallel_jobs: int = 1,
                 early_stopping_type: str = "Off", base_tuning_job_name: str | None = None,
                 random_seed: int | None = None, warm_start_config: WarmStartConfig | None = None,
                 hyperband_min_resource: int | None = None, hyperband_max_resource: int | None = None,
                 max_runtime_in_seconds: int | None = None) -> None:
        if not hyperparameter_ranges:
            raise InvalidArgument("hyperparameter_ranges is empty: give at least one range to tune, e.g. "
                                  "{'eta': ContinuousParameter(0.01, 0.5)}")
        self.estimator = estimator
        self.objective_metric_name, self.objective_type = objective_metric_name, objective_type
        self.hyperparameter_ranges = dict(hyperparameter_ranges)
        self.metric_definitions = list(metric_definitions or [])
        self.strategy, self.max_jobs, self.max_parallel_jobs = strategy, max_jobs, max_parallel_jobs
        self.early_stopping_type, self.random_seed = early_stopping_type, random_seed
        self.base_tuning_job_name, self.warm_start_config = base_tuning_job_name, warm_start_config
        self.hyperband = (hyperband_min_resource, hyperband_max_resource)
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.latest_tuning_job: str | None = None

    @property
    def client(self) -> Any:
        return self.estimator.client

    def create_request(self, inputs: Inputs | None, job_name: str) -> dict[str, Any]:
        """The CreateHyperParameterTuningJob request :meth:`fit` sends (AWS's field names)."""
        training = self.estimator.create_request(inputs, "trial")
        static = {k: v for k, v in training["HyperParameters"].items() if k not in self.hyperparameter_ranges}
        spec = dict(training["AlgorithmSpecification"])
        if self.metric_definitions:
            spec["MetricDefinitions"] = [*spec.get("MetricDefinitions", []), *self.metric_definitions]
        ranges: dict[str, list[dict[str, Any]]] = {"IntegerParameterRanges": [], "ContinuousParameterRanges": [],
                                                   "CategoricalParameterRanges": []}
        for name, item in self.hyperparameter_ranges.items():
            kind = {IntegerParameter: "Integer", ContinuousParameter: "Continuous",
                    CategoricalParameter: "Categorical"}.get(type(item))
            if kind is None:
                raise InvalidArgument(f"range {name!r} is a {type(item).__name__}; give an IntegerParameter, "
                                      "ContinuousParameter or CategoricalParameter")
            ranges[f"{kind}ParameterRanges"].append(item.as_range(name))
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if self.max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = self.max_jobs
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy, "ResourceLimits": limits, "ParameterRanges": ranges,
            "HyperParameterTuningJobObjective": {"Type": self.objective_type, "MetricName": self.objective_metric_name},
            "TrainingJobEarlyStoppingType": self.early_stopping_type}
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        if self.strategy == "Hyperband" and any(v is not None for v in self.hyperband):
            hyperband = {k: v for k, v in zip(("MinResource", "MaxResource"), self.hyperband, strict=True)
                         if v is not None}
            config["StrategyConfig"] = {"HyperbandStrategyConfig": hyperband}
        definition = {"AlgorithmSpecification": spec, "StaticHyperParameters": static,
                      "InputDataConfig": training["InputDataConfig"], "OutputDataConfig": training["OutputDataConfig"],
                      "ResourceConfig": training["ResourceConfig"], "StoppingCondition": training["StoppingCondition"],
                      "Environment": training["Environment"]}
        if "CheckpointConfig" in training:
            definition["CheckpointConfig"] = training["CheckpointConfig"]
        request: dict[str, Any] = {"HyperParameterTuningJobName": job_name, "HyperParameterTuningJobConfig": config,
                                   "TrainingJobDefinition": definition}
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.as_request()
        return request

    def fit(self, inputs: Inputs | None = None, job_name: str | None = None, wait: bool = True) -> Any:
        """Start the tuning job on ``inputs`` (as :meth:`Estimator.fit` takes them) and, with ``wait``, wait for
        its end; the job's description. A job that ends Failed raises
        :class:`~crispml.sdk.jobs.UnexpectedStatusException` with its failure reason."""
        for attempt in range(5):
            name = job_name or self._job_name()
            try:
                self.client.tuning.create_hyper_parameter_tuning_job(self.create_request(inputs, name))
                break
            except Conflict:
                if job_name is not None or attempt == 4:
                    raise
                time.sleep(1.0)  # names are unique to the second
        self.latest_tuning_job = name
        return self.wait() if wait else self.describe()

    def _name(self) -> str:
        if self.latest_tuning_job is None:
            raise InvalidArgument("this tuner has not been fitted; call fit() first")
        return self.latest_tuning_job

    def describe(self) -> Any:
        """The latest tuning job's DescribeHyperParameterTuningJob response."""
        return self.client.tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=self._name())

    def wait(self) -> Any:
        """Wait for the latest tuning job to end; its description (UnexpectedStatusException if it Failed)."""
        delay = MIN_DELAY
        while True:
            job = self.describe()
            if job.hyper_parameter_tuning_job_status not in ("InProgress", "Stopping"):
                break
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_DELAY)
        if job.hyper_parameter_tuning_job_status == "Failed":
            error = UnexpectedStatusException(
                f"tuning job {job.hyper_parameter_tuning_job_name} Failed: {job.failure_reason}",
                job=job.hyper_parameter_tuning_job_name, actual_status="Failed",
                allowed_statuses=["Completed", "Stopped"])
            error.job = job
            raise error
        return job

    def stop(self) -> None:
        self.client.tuning.stop_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=self._name())

    def best_training_job(self) -> str:
        """The name of the best trial's training job (InvalidArgument while no trial has an objective)."""
        best = self.describe().best_training_job
        if best is None:
            raise InvalidArgument(f"tuning job {self._name()} has no training job with an objective value yet")
        return str(best.training_job_name)

    def analytics(self) -> pd.DataFrame:
        """The trials as a pandas DataFrame: tuned hyperparameters, then the SageMaker SDK's columns."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.client.tuning.list_training_jobs_for_hyper_parameter_tuning_job(
                hyper_parameter_tuning_job_name=self._name(), next_token=token)
            for trial in page.training_job_summaries:
                final = trial.final_hyper_parameter_tuning_job_objective_metric
                start, end = trial.training_start_time, trial.training_end_time
                rows.append({**{k: _value(v) for k, v in trial.tuned_hyper_parameters.items()},
                             "TrainingJobName": trial.training_job_name,
                             "TrainingJobStatus": trial.training_job_status,
                             "FinalObjectiveValue": final.value if final else None,
                             "TrainingStartTime": start, "TrainingEndTime": end,
                             "TrainingElapsedTimeSeconds": (end - start).total_seconds() if start and end else None,
                             "EarlyStopped": trial.early_stopped})
            token = page.next_token
            if not token:
                return pd.DataFrame(rows)

    def _job_name(self) -> str:
        stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime())
        base = self.base_tuning_job_name or self.estimator.base_job_name or \
            (self.estimator.algorithm_name or "tuning")
        base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or "tuning"
        return f"{base[:_MAX_NAME - len(stamp) - 1]}-{stamp}"


def _value(text: str) -> Any:
    """A tuned value as a number where it is one (the SDK's DataFrame holds numbers)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
