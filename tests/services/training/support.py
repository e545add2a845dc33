"""Helpers of the training tests: waiting for a job, writing scripts and data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crispml.sdk.client import Client

BUCKET = "train-data"
OUTPUT = f"lake://{BUCKET}/output/"
TERMINAL = ("Completed", "Failed", "Stopped")


def wait(client: Client, name: str, timeout: float = 120.0, until: tuple[str, ...] = TERMINAL) -> Any:
    """DescribeTrainingJob until the job's status (or secondary status) is one of ``until``."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        job = client.training.describe_training_job(training_job_name=name)
        if job.training_job_status in until or job.secondary_status in until:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} still {job.training_job_status}/{job.secondary_status} after "
                                 f"{timeout}s: {job.failure_reason}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.3)


def script(folder: Path, text: str, name: str = "train.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def script_job(client: Client, name: str, source: Path, *, hyperparameters: dict[str, str] | None = None,
               channels: list[dict[str, Any]] | None = None, **extra: Any) -> str:
    client.training.create_training_job(
        training_job_name=name,
        algorithm_specification={"TrainingImage": "python", **extra.pop("algorithm", {})},
        hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": str(source),
                          **(hyperparameters or {})},
        input_data_config=channels or [],
        output_data_config={"S3OutputPath": OUTPUT},
        **extra)
    return name


def prefix_channel(name: str, uri: str, content_type: str = "text/csv", **extra: Any) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": content_type,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}, **extra}
