"""Bad input is refused before any trial starts, with AWS-like messages (and exit 2 on the CLI)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.services.tuning.errors import ResourceInUse, ResourceNotFound, ValidationException
from tests.cli.support import Run
from tests.services.tuning.support import xgboost_config, xgboost_definition


def _create(client: Client, name: str = "bad", config: dict[str, Any] | None = None,
            definition: dict[str, Any] | None = None, **extra: Any) -> None:
    client.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=name, hyper_parameter_tuning_job_config=config or xgboost_config(),
        training_job_definition=definition or xgboost_definition(), **extra)


def _ranges(**ranges: Any) -> dict[str, Any]:
    return xgboost_config(ParameterRanges=ranges)


CASES = {
    "min above max": (_ranges(ContinuousParameterRanges=[{"Name": "eta", "MinValue": "0.5", "MaxValue": "0.1"}]),
                      "ContinuousParameterRanges 'eta': MinValue 0.5 is greater than MaxValue 0.1"),
    "log from zero": (_ranges(ContinuousParameterRanges=[
        {"Name": "alpha", "MinValue": "0", "MaxValue": "10", "ScalingType": "Logarithmic"}]),
        "Logarithmic scaling needs MinValue > 0, not 0"),
    "reverse log to one": (_ranges(ContinuousParameterRanges=[
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}]),
        "ReverseLogarithmic scaling needs 0 <= MinValue <= MaxValue < 1"),
    "not a number": (_ranges(IntegerParameterRanges=[{"Name": "max_depth", "MinValue": "two", "MaxValue": "5"}]),
                     "IntegerParameterRanges 'max_depth': MinValue 'two' is not an integer"),
    "auto with hyperband": (xgboost_config("Hyperband", TrainingJobEarlyStoppingType="Auto"),
                            "TrainingJobEarlyStoppingType AUTO cannot be used with the Hyperband strategy"),
    "too many categorical": (_ranges(CategoricalParameterRanges=[
        {"Name": f"p{i}", "Values": ["a", "b"]} for i in range(31)]), "at most 30 CategoricalParameterRanges, not 31"),
    "grid over numbers": (xgboost_config("Grid"), "the Grid strategy takes CategoricalParameterRanges only"),
    "more parallel than jobs": (xgboost_config(jobs=2, parallel=3),
                                "MaxParallelTrainingJobs (3) is greater than MaxNumberOfTrainingJobs (2)"),
    "no ranges": (_ranges(), "ParameterRanges is empty"),
    "hyperband resources": (xgboost_config("Hyperband", StrategyConfig={"HyperbandStrategyConfig": {
        "MinResource": 10, "MaxResource": 5}}), "MinResource 10 is greater than MaxResource 5"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_range_or_strategy_is_refused_before_any_trial(local_client: Client, case: str) -> None:
    config, message = CASES[case]
    with pytest.raises(ValidationException) as caught:
        _create(local_client, config=config)
    assert message in str(caught.value)
    assert local_client.tuning.list_hyper_parameter_tuning_jobs().hyper_parameter_tuning_job_summaries == []
    assert local_client.training.list_training_jobs().training_job_summaries == []


def test_more_than_100_hyperparameters_in_all_are_refused(local_client: Client) -> None:
    definition = xgboost_definition()
    definition["StaticHyperParameters"].update({f"extra_{i}": "1" for i in range(97)})
    with pytest.raises(ValidationException, match="at most 100 hyperparameters in all"):
        _create(local_client, definition=definition)


def test_an_objective_the_algorithm_does_not_emit_is_refused_naming_what_it_emits(local_client: Client) -> None:
    config = xgboost_config(HyperParameterTuningJobObjective={"Type": "Maximize", "MetricName": "validation:f1"})
    with pytest.raises(ValidationException) as caught:
        _create(local_client, config=config)
    message = str(caught.value)
    assert "the objective metric 'validation:f1' is not emitted by algorithm 'xgboost'" in message
    assert "validation:auc" in message


def test_a_range_outside_the_algorithms_limits_is_refused(local_client: Client) -> None:
    config = _ranges(ContinuousParameterRanges=[{"Name": "eta", "MinValue": "0.1", "MaxValue": "3"}])
    with pytest.raises(InvalidArgument, match="eta"):
        _create(local_client, config=config)
    assert local_client.training.list_training_jobs().training_job_summaries == []


def test_a_tuned_hyperparameter_that_is_also_static_is_refused(local_client: Client) -> None:
    definition = xgboost_definition()
    definition["StaticHyperParameters"]["eta"] = "0.2"
    with pytest.raises(ValidationException, match="both tuned"):
        _create(local_client, definition=definition)


def test_names_and_warm_start_parents_are_checked(local_client: Client) -> None:
    with pytest.raises(ValidationException, match="1-32 letters"):
        _create(local_client, name="x" * 33)
    with pytest.raises(ResourceNotFound, match="parent tuning job 'nope' does not exist"):
        _create(local_client, warm_start_config={"WarmStartType": "TransferLearning",
                                                 "ParentHyperParameterTuningJobs": [
                                                     {"HyperParameterTuningJobName": "nope"}]})
    with pytest.raises(NotFound, match="hyperparameter tuning job 'ghost' does not exist"):
        local_client.tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name="ghost")


def test_a_duplicate_name_is_resource_in_use(local_client: Client) -> None:
    config = xgboost_config(jobs=1, parallel=1)
    _create(local_client, name="twice", config=config)
    with pytest.raises(ResourceInUse, match="'twice' already exists"):
        _create(local_client, name="twice", config=config)
    local_client.tuning.stop_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name="twice")
    from tests.services.tuning.support import wait

    assert wait(local_client, "twice").hyper_parameter_tuning_job_status == "Stopped"


def test_the_cli_refuses_bad_input_with_exit_2_and_one_line(run: Run, local_client: Client) -> None:
    config = _ranges(IntegerParameterRanges=[{"Name": "max_depth", "MinValue": "9", "MaxValue": "2"}])
    result = run("tuning", "create-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", "cli-bad",
                 "--hyper-parameter-tuning-job-config", json.dumps(config),
                 "--training-job-definition", json.dumps(xgboost_definition()))
    assert result.code == 2
    assert "ValidationException" in result.err and "MinValue 9 is greater than MaxValue 2" in result.err
    assert "Traceback" not in result.err
