"""Estimators in the SageMaker Python SDK's shape: ``Estimator(...).fit(inputs)`` runs a training job.

::

    from crispml.sdk.estimator import SKLearn

    est = SKLearn(client, entry_point="train.py", source_dir="src/", hyperparameters={"alpha": 0.1},
                  output_path="lake://models/churn/")
    est.fit({"train": "lake://data/churn/train/"})
    est.model_data  # 'lake://models/churn/<job>/output/model.tar.gz'

It builds the ``CreateTrainingJob`` request the SageMaker SDK would build — a
script's entry point and folder named in ``sagemaker_program`` and
``sagemaker_submit_directory``, every hyperparameter of a script job
JSON-encoded (a built-in algorithm's as plain strings), job names
``<base>-<yyyy-mm-dd-HH-MM-SS-mmm>`` — and calls the operation through the
client, so a job made here is the same job the CLI or REST would make. Inputs
are lake prefixes (``"lake://…"``, ``"s3://…"``), :class:`TrainingInput`
(SageMaker's) or :class:`CatalogInput` (crispml's: a catalog table).
Waiting polls the job (:mod:`crispml.sdk.jobs`), which runs in another process.

It does not deploy models (``deploy()`` comes with the serving service) nor
run on several instances.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from os import PathLike
from typing import Any

from crispml.core.errors import Conflict, InvalidArgument
from crispml.sdk.jobs import Progress, wait_for_training_job

__all__ = ["CatalogInput", "Estimator", "SKLearn", "TrainingInput", "TrainingJobHandle", "XGBoost"]

#: The ECR registry of SageMaker's framework images in us-east-1 (the URI's repository picks the framework).
_SAGEMAKER_REGISTRY = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
_MAX_NAME = 63


@dataclass(frozen=True)
class TrainingInput:
    """A channel over a lake prefix, as ``sagemaker.inputs.TrainingInput``."""

    s3_data: str
    content_type: str | None = None
    input_mode: str | None = None
    distribution: str = "FullyReplicated"
    compression: str | None = None
    s3_data_type: str = "S3Prefix"

    def channel(self, name: str) -> dict[str, Any]:
        channel: dict[str, Any] = {"ChannelName": name, "DataSource": {"S3DataSource": {
            "S3DataType": self.s3_data_type, "S3Uri": self.s3_data,
            "S3DataDistributionType": self.distribution}}}
        return _with_options(channel, self.content_type, self.input_mode, self.compression)


@dataclass(frozen=True)
class CatalogInput:
    """crispml: a channel over a catalog table, pinned to its snapshot when the job starts."""

    database: str
    table: str
    label_column: str | None = None
    columns: list[str] | None = None
    content_type: str | None = None
    input_mode: str | None = None
    snapshot_id: int | None = None

    def channel(self, name: str) -> dict[str, Any]:
        source: dict[str, Any] = {"DatabaseName": self.database, "TableName": self.table}
        if self.label_column is not None:
            source["LabelColumn"] = self.label_column
        if self.columns is not None:
            source["Columns"] = list(self.columns)
        if self.snapshot_id is not None:
            source["SnapshotId"] = self.snapshot_id
        channel = {"ChannelName": name, "DataSource": {"CatalogDataSource": source}}
        return _with_options(channel, self.content_type, self.input_mode, None)


def _with_options(channel: dict[str, Any], content_type: str | None, input_mode: str | None,
                  compression: str | None) -> dict[str, Any]:
    if content_type is not None:
        channel["ContentType"] = content_type
    if input_mode is not None:
        channel["InputMode"] = input_mode
    if compression is not None:
        channel["CompressionType"] = compression
    return channel


Inputs = str | TrainingInput | CatalogInput | dict[str, "str | TrainingInput | CatalogInput"]


class TrainingJobHandle:
    """One training job of an estimator (the SageMaker SDK's ``estimator.latest_training_job``)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    @property
    def job_name(self) -> str:
        return self.name

    def describe(self) -> Any:
        """The job's DescribeTrainingJob response."""
        return self.client.training.describe_training_job(training_job_name=self.name)

    def wait(self, logs: bool = False) -> Any:
        """Wait for the job to end and return its description; :class:`UnexpectedStatusException` (with
        the failure reason) if it Failed. ``logs`` prints its log lines as they come."""
        return wait_for_training_job(self.client, self.name, logs=logs, on_progress=_print_lines if logs else None,
                                     allowed=("Completed", "Stopped"))

    def stop(self) -> None:
        self.client.training.stop_training_job(training_job_name=self.name)

    def __repr__(self) -> str:
        return f"<training job {self.name}>"


def _print_lines(progress: Progress) -> None:
    for line in progress.lines:
        print(line.message, file=sys.stdout, flush=True)


class Estimator:
    """A training job's definition, run with :meth:`fit` (``sagemaker.estimator.Estimator``'s shape).

    Give ``algorithm_name`` (a built-in algorithm) or ``image_uri`` (a framework — ``"sklearn"``,
    ``"xgboost"``, ``"lightgbm"``, ``"python"`` — or a SageMaker framework image URI) with an
    ``entry_point`` script (and the ``source_dir`` folder holding it, or the script's own folder).
    """

    def __init__(self, client: Any, *, output_path: str, algorithm_name: str | None = None,
                 image_uri: str | None = None, entry_point: str | PathLike[str] | None = None,
                 source_dir: str | PathLike[str] | None = None,
                 hyperparameters: dict[str, Any] | None = None, instance_count: int = 1, cpus: int | None = None,
                 memory_limit_in_mb: int | None = None, max_run: int = 86_400,
                 keep_alive_period_in_seconds: int | None = None,
                 metric_definitions: list[dict[str, str]] | None = None, input_mode: str = "File",
                 checkpoint_s3_uri: str | None = None, cross_validation: dict[str, Any] | None = None,
                 environment: dict[str, str] | None = None, base_job_name: str | None = None,
                 tags: list[dict[str, str]] | None = None) -> None:
        if (algorithm_name is None) == (image_uri is None):
            raise InvalidArgument("an Estimator needs exactly one of algorithm_name (a built-in algorithm) and "
                                  "image_uri (a framework such as 'sklearn', for an entry_point script)")
        if image_uri is not None and entry_point is None:
            raise InvalidArgument(f"image_uri {image_uri!r} runs a script: give its entry_point (e.g. 'train.py')")
        if algorithm_name is not None and (entry_point is not None or source_dir is not None):
            raise InvalidArgument("a built-in algorithm takes no entry_point or source_dir; use image_uri for a "
                                  "script")
        self.client = client
        self.output_path = output_path
        self.algorithm_name, self.image_uri = algorithm_name, image_uri
        self.entry_point, self.source_dir = entry_point, source_dir
        self.hyperparameters_ = dict(hyperparameters or {})
        self.instance_count, self.cpus, self.memory_limit_in_mb = instance_count, cpus, memory_limit_in_mb
        self.max_run, self.keep_alive_period_in_seconds = max_run, keep_alive_period_in_seconds
        self.metric_definitions = list(metric_definitions or [])
        self.input_mode, self.checkpoint_s3_uri = input_mode, checkpoint_s3_uri
        self.cross_validation, self.environment = cross_validation, dict(environment or {})
        self.base_job_name, self.tags = base_job_name, list(tags or [])
        self._latest: TrainingJobHandle | None = None

    # --- what fit() sends ---------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters as sent: a script job's JSON-encoded (with its entry point and folder), a
        built-in algorithm's as plain strings, as the SageMaker SDK sends them."""
        if self.entry_point is None:
            return {str(k): _plain(v) for k, v in self.hyperparameters_.items()}
        encoded = {str(k): json.dumps(v) for k, v in self.hyperparameters_.items()}
        encoded["sagemaker_program"] = json.dumps(str(self.entry_point))
        if self.source_dir is not None:
            encoded["sagemaker_submit_directory"] = json.dumps(str(self.source_dir))
        return encoded

    def create_request(self, inputs: Inputs | None, job_name: str) -> dict[str, Any]:
        """The CreateTrainingJob request :meth:`fit` sends (AWS's field names)."""
        spec: dict[str, Any] = {"TrainingInputMode": self.input_mode}
        if self.algorithm_name is not None:
            spec["AlgorithmName"] = self.algorithm_name
        else:
            spec["TrainingImage"] = self.image_uri
        if self.metric_definitions:
            spec["MetricDefinitions"] = self.metric_definitions
        resources: dict[str, Any] = {"InstanceCount": self.instance_count}
        for key, value in (("Cpus", self.cpus), ("MemoryLimitInMB", self.memory_limit_in_mb),
                           ("KeepAlivePeriodInSeconds", self.keep_alive_period_in_seconds)):
            if value is not None:
                resources[key] = value
        request: dict[str, Any] = {
            "TrainingJobName": job_name, "AlgorithmSpecification": spec, "HyperParameters": self.hyperparameters(),
            "InputDataConfig": _channels(inputs), "OutputDataConfig": {"S3OutputPath": self.output_path},
            "ResourceConfig": resources, "StoppingCondition": {"MaxRuntimeInSeconds": self.max_run},
            "Environment": self.environment, "Tags": self.tags,
        }
        if self.checkpoint_s3_uri is not None:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3_uri}
        if self.cross_validation is not None:
            request["CrossValidation"] = self.cross_validation
        return request

    # --- running ------------------------------------------------------------------------------

    def fit(self, inputs: Inputs | None = None, wait: bool = True, logs: bool = False,
            job_name: str | None = None) -> Any:
        """Start a training job on ``inputs`` (channel name → lake prefix, TrainingInput or CatalogInput; a
        single one is the channel ``training``) and, with ``wait``, wait for its end.

        Returns the job's description (the finished job's, when waiting). A job that ends Failed raises
        :class:`~crispml.sdk.jobs.UnexpectedStatusException` with its failure reason; ``logs`` prints the
        job's log lines as they come.
        """
        for attempt in range(5):
            name = job_name or self._job_name()
            try:  # AWS's field names, as a request document: the operation validates it
                self.client.training.create_training_job(self.create_request(inputs, name))
                break
            except Conflict:  # ResourceInUse: a job of this name exists
                if job_name is not None or attempt == 4:  # a name given, or clocks that do not move
                    raise
                time.sleep(0.002)
        self._latest = TrainingJobHandle(self.client, name)
        if not wait:
            return self._latest.describe()
        return self._latest.wait(logs=logs)

    @property
    def latest_training_job(self) -> TrainingJobHandle | None:
        """The job the last :meth:`fit` started (None before any)."""
        return self._latest

    @property
    def model_data(self) -> str | None:
        """The last job's ``model.tar.gz`` (``lake://…``), None while it has none."""
        if self._latest is None:
            raise InvalidArgument("this estimator has not been fitted; call fit() first")
        artifacts = self._latest.describe().model_artifacts
        return artifacts.s3_model_artifacts if artifacts is not None else None

    def _job_name(self) -> str:
        """``<base>-<timestamp to the millisecond>``, at most 63 characters, as the SageMaker SDK names jobs."""
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime()) + f"-{int(time.time() * 1000) % 1000:03d}"
        base = self.base_job_name or _base_name(self.image_uri or self.algorithm_name or "training")
        base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or "training"
        return f"{base[:_MAX_NAME - len(stamp) - 1]}-{stamp}"


class SKLearn(Estimator):
    """A scikit-learn script (``sagemaker.sklearn.SKLearn``): SageMaker's scikit-learn image."""

    def __init__(self, client: Any, entry_point: str | PathLike[str], *, framework_version: str = "1.2-1",
                 py_version: str = "py3", **kwargs: Any) -> None:
        image = f"{_SAGEMAKER_REGISTRY}/sagemaker-scikit-learn:{framework_version}-cpu-{py_version}"
        super().__init__(client, image_uri=image, entry_point=entry_point, **kwargs)
        self.framework_version = framework_version


class XGBoost(Estimator):
    """An XGBoost script (``sagemaker.xgboost.XGBoost``): SageMaker's XGBoost image."""

    def __init__(self, client: Any, entry_point: str | PathLike[str], *, framework_version: str = "1.7-1",
                 **kwargs: Any) -> None:
        image = f"{_SAGEMAKER_REGISTRY}/sagemaker-xgboost:{framework_version}"
        super().__init__(client, image_uri=image, entry_point=entry_point, **kwargs)
        self.framework_version = framework_version


def _channels(inputs: Inputs | None) -> list[dict[str, Any]]:
    if inputs is None:
        return []
    if not isinstance(inputs, dict):
        inputs = {"training": inputs}
    channels = []
    for name, source in inputs.items():
        if isinstance(source, str):
            source = TrainingInput(source)
        if not isinstance(source, TrainingInput | CatalogInput):
            raise InvalidArgument(f"input {name!r} is a {type(source).__name__}; give a 'lake://…' or 's3://…' "
                                  "prefix, a TrainingInput or a CatalogInput")
        channels.append(source.channel(name))
    return channels


def _plain(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _base_name(image: str) -> str:
    """The repository of an image URI (``…/sagemaker-scikit-learn:1.2-1`` → ``sagemaker-scikit-learn``)."""
    match = re.match(r"^(.+/)?([^:/@]+)([:@].+)?$", image)
    return match.group(2) if match else image
