"""Early stopping: AWS's AUTO rule, and Hyperband's rungs and MaxResource, on the objective each step reports."""

from __future__ import annotations

import statistics
from pathlib import Path

from crispml.sdk.client import Client
from tests.services.tuning.support import script_definition, trials, wait

#: A trial whose loss is its hyperparameter x at every step (its running average is x), one step at a time.
CONSTANT = """
import os, sys, time
x = float(os.environ["SM_HP_X"])
for step in range({steps}):
    print(f"step {{step}}: loss={{x * (1 + 1 / (step + 1))}}" if {decaying} else f"step {{step}}: loss={{x}}",
          flush=True)
    time.sleep({pause})
"""


def _source(tmp_path: Path, steps: int, pause: float, decaying: bool = False) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(CONSTANT.format(steps=steps, pause=pause, decaying=decaying))
    return source


def _config(strategy: str, jobs: int, **extra: object) -> dict[str, object]:
    return {"Strategy": strategy, "RandomSeed": 11,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
            **extra}


def test_auto_stops_a_trial_worse_than_the_median_of_earlier_running_averages(local_home: Client,
                                                                              tmp_path: Path) -> None:
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="auto", hyper_parameter_tuning_job_config=_config(
            "Random", 7, TrainingJobEarlyStoppingType="AUTO"),
        training_job_definition=script_definition(_source(tmp_path, steps=3, pause=0.7)))
    job = wait(local_home, "auto")
    assert job.hyper_parameter_tuning_job_status == "Completed", job.failure_reason
    ordered = sorted(trials(local_home, "auto"), key=lambda t: t.training_job_name)
    assert len(ordered) == 7
    for index, trial in enumerate(ordered):  # one trial at a time: every earlier trial had ended
        x = float(trial.tuned_hyper_parameters["x"])
        earlier = [float(t.tuned_hyper_parameters["x"]) for t in ordered[:index]]
        worse = len(earlier) >= 3 and x > statistics.median(earlier)
        assert trial.early_stopped == worse, (index, x, earlier)
        if worse:
            # judged at its first step (its loss is the same at every step): stopped there
            assert trial.training_job_status == "Stopped" and trial.objective_steps == 1
            assert trial.final_hyper_parameter_tuning_job_objective_metric.value == x
        else:
            assert trial.training_job_status == "Completed" and trial.objective_steps == 3
    assert any(t.early_stopped for t in ordered)


def test_hyperband_counts_no_step_past_max_resource_and_stops_trials_at_its_rungs(local_home: Client,
                                                                                 tmp_path: Path) -> None:
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="band", hyper_parameter_tuning_job_config=_config(
            "Hyperband", 8, StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 4}}),
        training_job_definition=script_definition(_source(tmp_path, steps=40, pause=0.1, decaying=True)))
    job = wait(local_home, "band")
    assert job.hyper_parameter_tuning_job_status == "Completed", job.failure_reason
    listed = trials(local_home, "band")
    assert len(listed) == 8
    assert all(t.training_job_status == "Stopped" and 1 <= t.objective_steps <= 4 for t in listed)
    reached = [t for t in listed if not t.early_stopped]
    assert reached and all(t.objective_steps == 4 for t in reached)  # stopped at MaxResource
    assert any(t.early_stopped and t.objective_steps < 4 for t in listed)  # stopped at a rung
