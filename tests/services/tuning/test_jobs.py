"""Tuning jobs: every trial a training job, in parallel on warm workers, ranked by its objective."""

from __future__ import annotations

import json

from crispml.sdk.client import Client
from crispml.sdk.estimator import Estimator
from crispml.sdk.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter
from tests.cli.support import Run
from tests.services.tuning.support import (
    BUCKET,
    KEEP,
    OUTPUT,
    trials,
    wait,
    xgboost_config,
    xgboost_definition,
)


def test_a_bayesian_job_runs_its_trials_as_training_jobs_two_at_a_time_on_warm_workers(home_client: Client) -> None:
    client = home_client
    client.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="bayes", hyper_parameter_tuning_job_config=xgboost_config(jobs=4),
        training_job_definition=xgboost_definition())
    job = wait(client, "bayes")
    assert job.hyper_parameter_tuning_job_status == "Completed", job.failure_reason
    assert job.training_job_status_counters.completed == 4
    assert job.objective_status_counters.succeeded == 4
    listed = trials(client, "bayes", sort_by="FinalObjectiveMetricValue")
    values = [t.final_hyper_parameter_tuning_job_objective_metric.value for t in listed]
    assert values == sorted(values)
    assert job.best_training_job.training_job_name == listed[0].training_job_name
    spans = []
    for trial in listed:
        training = client.training.describe_training_job(training_job_name=trial.training_job_name)
        assert training.training_job_status == "Completed"
        assert {k: training.hyper_parameters[k] for k in ("eta", "max_depth")} == trial.tuned_hyper_parameters
        assert training.hyper_parameters["num_round"] == "10"  # the static ones too
        assert 0.05 <= float(trial.tuned_hyper_parameters["eta"]) <= 0.5
        assert 1 <= int(trial.tuned_hyper_parameters["max_depth"]) <= 5
        final = [m.value for m in training.final_metric_data_list if m.metric_name == "validation:logloss"]
        assert final == [trial.final_hyper_parameter_tuning_job_objective_metric.value]
        assert trial.objective_steps == 10  # one objective value per boosting round, read from its logs
        logs = client.training.get_training_job_logs(training_job_name=trial.training_job_name)
        assert any("validation-logloss" in line.message for line in logs.lines)
        spans.append((training.training_start_time, training.training_end_time))
    # never more than MaxParallelTrainingJobs at once
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2
    # trials reuse the warm workers of finished trials
    pools = [client.training.describe_training_job(training_job_name=t.training_job_name).warm_pool_status
             for t in listed]
    names = {t.training_job_name for t in listed}
    reused = [p for p in pools if p is not None and p.status == "Reused"]
    assert reused and all(p.reused_by_job in names for p in reused)


def test_the_leaderboard_and_list_show_the_trials_best_first(local_home: Client, run: Run) -> None:
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="board",
        hyper_parameter_tuning_job_config=xgboost_config("Random", jobs=3, parallel=1),
        training_job_definition=xgboost_definition(rounds=4))
    wait(local_home, "board")
    best_first = trials(local_home, "board", sort_by="FinalObjectiveMetricValue")
    result = run("tuning", "leaderboard", "board")
    assert result.code == 0, result.err
    import re

    assert re.findall(r"board-\d{3}-[0-9a-f]{8}", result.out) == [t.training_job_name for t in best_first]
    assert "validation:logloss (Minimize)" in result.out
    as_json = run("tuning", "leaderboard", "board", "--output", "json")
    assert [t["training_job_name"] for t in json.loads(as_json.out)["training_job_summaries"]] == \
        [t.training_job_name for t in best_first]
    described = run("tuning", "describe-hyper-parameter-tuning-job", "board", "--output", "json")
    assert json.loads(described.out)["best_training_job"]["training_job_name"] == best_first[0].training_job_name
    # a second job, stopped at once: the list filters and sorts both
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="abandoned",
        hyper_parameter_tuning_job_config=xgboost_config(jobs=1, parallel=1),
        training_job_definition=xgboost_definition(rounds=2))
    local_home.tuning.stop_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name="abandoned")
    assert wait(local_home, "abandoned").hyper_parameter_tuning_job_status == "Stopped"
    for sort_by, expected in (("Name", ["abandoned", "board"]), ("CreationTime", ["board", "abandoned"]),
                              ("Status", ["board", "abandoned"])):  # Completed before Stopped
        listed = local_home.tuning.list_hyper_parameter_tuning_jobs(sort_by=sort_by)
        assert [s.hyper_parameter_tuning_job_name for s in listed.hyper_parameter_tuning_job_summaries] == expected
    stopped = local_home.tuning.list_hyper_parameter_tuning_jobs(status_equals="Stopped")
    assert [s.hyper_parameter_tuning_job_name for s in stopped.hyper_parameter_tuning_job_summaries] == ["abandoned"]
    listed_cli = run("tuning", "list-hyper-parameter-tuning-jobs", "--sort-by", "Name")
    assert listed_cli.code == 0 and "abandoned" in listed_cli.out and "Random" in listed_cli.out


def test_a_grid_job_runs_each_combination_once(local_home: Client) -> None:
    config = xgboost_config("Grid", jobs=None, parallel=2, ParameterRanges={"CategoricalParameterRanges": [
        {"Name": "max_depth", "Values": ["1", "3"]}, {"Name": "eta", "Values": ["0.1", "0.3", "0.5"]}]})
    config["ResourceLimits"].pop("MaxNumberOfTrainingJobs")
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="grid", hyper_parameter_tuning_job_config=config,
        training_job_definition=xgboost_definition(rounds=3))
    assert wait(local_home, "grid").hyper_parameter_tuning_job_status == "Completed"
    points = sorted((t.tuned_hyper_parameters["max_depth"], t.tuned_hyper_parameters["eta"])
                    for t in trials(local_home, "grid"))
    assert points == sorted((d, e) for d in ("1", "3") for e in ("0.1", "0.3", "0.5"))


def test_the_sdk_tuner_fits_and_its_analytics_are_a_dataframe_and_a_warm_start_reuses_them(
        local_home: Client) -> None:
    estimator = Estimator(local_home, algorithm_name="xgboost", output_path=OUTPUT,
                          keep_alive_period_in_seconds=KEEP["KeepAlivePeriodInSeconds"],
                          hyperparameters={"num_round": 4, "objective": "binary:logistic", "eval_metric": "auc"})
    inputs = {name: f"lake://{BUCKET}/{name}/" for name in ("train", "validation")}
    tuner = HyperparameterTuner(estimator, "validation:auc",
                                {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(1, 4)},
                                strategy="Random", max_jobs=3, max_parallel_jobs=1, random_seed=5,
                                base_tuning_job_name="sdk")
    from crispml.sdk.estimator import TrainingInput

    described = tuner.fit({k: TrainingInput(v, content_type="text/csv") for k, v in inputs.items()},
                          job_name="sdk-parent")
    assert described.hyper_parameter_tuning_job_status == "Completed"
    frame = tuner.analytics()
    assert len(frame) == 3
    assert {"eta", "max_depth", "TrainingJobName", "FinalObjectiveValue", "TrainingElapsedTimeSeconds"} <= \
        set(frame.columns)
    best = frame.sort_values("FinalObjectiveValue", ascending=False).iloc[0]
    assert tuner.best_training_job() == best["TrainingJobName"]
    assert frame["max_depth"].between(1, 4).all()

    from crispml.sdk.tuner import WarmStartConfig

    child = HyperparameterTuner(estimator, "validation:auc", {"max_depth": CategoricalParameter([2, 3]),
                                                              "eta": ContinuousParameter(0.05, 0.5)},
                                strategy="Bayesian", max_jobs=1, random_seed=5,
                                warm_start_config=WarmStartConfig("IdenticalDataAndAlgorithm", ["sdk-parent"]))
    child_job = child.fit({k: TrainingInput(v, content_type="text/csv") for k, v in inputs.items()},
                          job_name="sdk-child")
    assert child_job.training_job_status_counters.completed == 1  # the parents' trials are not run again
    overall = child_job.overall_best_training_job.final_hyper_parameter_tuning_job_objective_metric.value
    assert overall == max([float(frame["FinalObjectiveValue"].max()),
                           child_job.best_training_job.final_hyper_parameter_tuning_job_objective_metric.value])
