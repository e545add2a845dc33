"""Helpers of the tuning tests: data, definitions, waiting for a tuning job."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from crispml.sdk.client import Client

BUCKET = "tune-data"
OUTPUT = f"lake://{BUCKET}/output/"
#: Trials' workers stay warm briefly: long enough for the next trial, short enough to be gone after a test.
KEEP = {"KeepAlivePeriodInSeconds": 5}


def put_data(client: Client) -> None:
    """300 training and 100 validation rows (label first, no header) of a noisy linear rule."""
    client.lake.create_bucket(bucket=BUCKET)
    rng = random.Random(7)
    rows = []
    for _ in range(400):
        x = [rng.random() for _ in range(4)]
        rows.append(",".join(map(str, [int(x[0] + 0.5 * x[1] + 0.3 * rng.random() > 0.9), *x])))
    client.lake.put_object(bucket=BUCKET, key="train/rows.csv", body="\n".join(rows[:300]).encode())
    client.lake.put_object(bucket=BUCKET, key="validation/rows.csv", body="\n".join(rows[300:]).encode())


def channel(name: str) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3Uri": f"lake://{BUCKET}/{name}/"}}}


def xgboost_definition(rounds: int = 10) -> dict[str, Any]:
    return {"AlgorithmSpecification": {"AlgorithmName": "xgboost"},
            "StaticHyperParameters": {"num_round": str(rounds), "objective": "binary:logistic",
                                      "eval_metric": "logloss"},
            "InputDataConfig": [channel("train"), channel("validation")],
            "OutputDataConfig": {"S3OutputPath": OUTPUT}, "ResourceConfig": dict(KEEP)}


def xgboost_config(strategy: str = "Bayesian", jobs: int = 4, parallel: int = 2, **extra: Any) -> dict[str, Any]:
    return {"Strategy": strategy, "RandomSeed": 3,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"}],
                                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "5"}]},
            **extra}


def script_definition(source: Path, metric: str = "loss") -> dict[str, Any]:
    """A script job whose objective is printed as ``loss=<value>`` (one line a step)."""
    return {"AlgorithmSpecification": {"TrainingImage": "python", "MetricDefinitions": [
                {"Name": metric, "Regex": r"loss=([0-9.eE+-]+)"}]},
            "StaticHyperParameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": str(source)},
            "OutputDataConfig": {"S3OutputPath": OUTPUT}, "ResourceConfig": dict(KEEP)}


def wait(client: Client, name: str, timeout: float = 120.0, until: tuple[str, ...] = ("Completed", "Failed",
                                                                                       "Stopped")) -> Any:
    """DescribeHyperParameterTuningJob until the job's status is one of ``until``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        job = client.tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=name)
        if job.hyper_parameter_tuning_job_status in until:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"tuning job {name} still {job.hyper_parameter_tuning_job_status} after {timeout}s: "
                                 f"{job.training_job_status_counters}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.3)


def trials(client: Client, name: str, **options: Any) -> list[Any]:
    return list(client.tuning.list_training_jobs_for_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=name, **options).training_job_summaries)
