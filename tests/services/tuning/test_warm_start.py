"""Warm start: a parent's finished trials count and seed the child's search, for either warm-start type.

A grid search makes the seeding visible: the points a parent has tried count
as tried, so the child runs only the others.
"""

from __future__ import annotations

from typing import Any

from crispml.sdk.client import Client
from tests.services.tuning.support import trials, wait, xgboost_config, xgboost_definition


def _grid(name: str, client: Client, depths: list[str], *, rounds: int = 3, warm: dict[str, Any] | None = None
          ) -> Any:
    config = xgboost_config("Grid", parallel=2, ParameterRanges={"CategoricalParameterRanges": [
        {"Name": "max_depth", "Values": depths}, {"Name": "eta", "Values": ["0.3"]}]})
    config["ResourceLimits"].pop("MaxNumberOfTrainingJobs")
    client.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=name, hyper_parameter_tuning_job_config=config,
        training_job_definition=xgboost_definition(rounds=rounds), **({"warm_start_config": warm} if warm else {}))
    job = wait(client, name)
    assert job.hyper_parameter_tuning_job_status == "Completed", job.failure_reason
    return job


def _depths(client: Client, name: str) -> list[str]:
    return sorted(t.tuned_hyper_parameters["max_depth"] for t in trials(client, name))


def _value(summary: Any) -> float:
    return float(summary.final_hyper_parameter_tuning_job_objective_metric.value)


def test_identical_data_and_algorithm_parents_count_and_seed_the_search(local_home: Client) -> None:
    parent = _grid("same-parent", local_home, ["1", "2"])
    child = _grid("same-child", local_home, ["1", "2", "3"], warm={
        "WarmStartType": "IdenticalDataAndAlgorithm",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "same-parent"}]})
    assert _depths(local_home, "same-child") == ["3"]  # the parent's two points are not run again
    assert child.training_job_status_counters.completed == 1
    assert child.warm_start_config.warm_start_type == "IdenticalDataAndAlgorithm"
    overall = min(_value(parent.best_training_job), _value(child.best_training_job))
    assert _value(child.overall_best_training_job) == overall  # the parents' trials count in the ranking


def test_transfer_learning_parents_seed_the_search_within_the_new_ranges(local_home: Client) -> None:
    _grid("far-parent", local_home, ["1", "2"])
    # another definition (more rounds) and other ranges: the parent's max_depth 2 lies in them, its 1 does not
    child = _grid("far-child", local_home, ["2", "3", "4"], rounds=4, warm={
        "WarmStartType": "TransferLearning",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "far-parent"}]})
    assert _depths(local_home, "far-child") == ["3", "4"]
    assert child.training_job_status_counters.completed == 2
    assert child.warm_start_config.warm_start_type == "TransferLearning"
