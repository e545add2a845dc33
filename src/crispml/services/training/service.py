"""The training service (SageMaker training jobs): one class combining the operations.

- ``CreateTrainingJob`` (``jobs.py``): a built-in algorithm
  (``algorithms/``) or a script in SageMaker's script mode
  (``frameworks.py``), on channels over lake prefixes or catalog tables,
  pinned when the job starts (``channels.py``), with SageMaker's resource,
  stopping, checkpoint and metric options and crispml's ``CrossValidation``.
- ``DescribeTrainingJob``, ``ListTrainingJobs``, ``StopTrainingJob`` as in
  SageMaker, and ``GetTrainingJobLogs`` for the job's CloudWatch Logs stream.
- Each job runs in a worker process (``executor.py``) that forks the job's
  own process with the SageMaker container contract (``container.py``,
  ``layout.py``), enforces its limits, streams its logs and metrics
  (``logsink.py``) and uploads ``model.tar.gz``; workers may be kept warm
  for the next job (``warm.py``). A job whose worker died is closed, or
  resumed from its checkpoints, by the next call that reads it (``core.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from crispml.core.context import CallContext
from crispml.services.training.ends import EndWatch
from crispml.services.training.entities import (
    AlgorithmSpecification,
    CatalogDataSource,
    Channel,
    ChannelLineage,
    CheckpointConfig,
    CrossValidation,
    DataSource,
    EvaluationConfig,
    MetricDefinition,
    OutputDataConfig,
    ResourceConfig,
    S3DataSource,
    StoppingCondition,
    Tag,
    TrainingJob,
)
from crispml.services.training.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from crispml.services.training.frameworks import decode as hyperparameter_value
from crispml.services.training.frameworks import framework_of
from crispml.services.training.jobs import JobOps
from crispml.services.training.specs import (
    CreateTrainingJobRequest,
    GetTrainingJobLogsRequest,
    JobName,
    ListTrainingJobsRequest,
    TrainingJobRequest,
    check_job_name,
)
from crispml.spine.operations import Service

if TYPE_CHECKING:
    import pyarrow as pa

    from crispml.services.training.algorithms import Algorithm

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "AlgorithmSpecification",
    "CatalogDataSource",
    "Channel",
    "ChannelLineage",
    "CheckpointConfig",
    "CreateTrainingJobRequest",
    "CrossValidation",
    "DataSource",
    "EndWatch",
    "EvaluationConfig",
    "GetTrainingJobLogsRequest",
    "JobName",
    "ListTrainingJobsRequest",
    "MetricDefinition",
    "OutputDataConfig",
    "ResourceConfig",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceNotFound",
    "S3DataSource",
    "StoppingCondition",
    "Tag",
    "TrainingJob",
    "TrainingJobRequest",
    "TrainingService",
    "ValidationException",
    "builtin_algorithm",
    "builtin_algorithm_names",
    "check_job_name",
    "framework_of",
    "hyperparameter_value",
]


def builtin_algorithm_names() -> list[str]:
    """Every built-in algorithm's AWS name (no ML library imported)."""
    from crispml.services.training import algorithms

    return algorithms.names()


def builtin_algorithm(name: str) -> Algorithm:
    """The built-in algorithm ``name``, whose ``load(model_dir)`` and ``predict(model, body, content_type, accept)``
    serve the models it trained (for the registry and serving); ValidationException listing them otherwise."""
    from crispml.services.training import algorithms

    return algorithms.get(name)


class TrainingService(Service, JobOps):
    name = "training"

    def channel_rows(self, ctx: CallContext, channel: Channel) -> tuple[pa.Table, ChannelLineage]:
        """A channel's rows, read as ``ctx``'s caller, and what was read (the pin): a table's rows with its
        label first, or a lake prefix's CSV (no header, label first) or Parquet files. For other services
        that read data as a training job does (evaluation). ValidationException for an empty or missing
        channel, as CreateTrainingJob gives."""
        from crispml.services.training import channels

        pinned = channels.pin(self, ctx, channel)
        if channel.data_source.catalog_data_source is not None:
            return channels.table_rows(self, ctx, channel, pinned), pinned
        return channels.prefix_rows(self, ctx, channel, pinned), pinned

    def work(self, name: str, after: Callable[[str, str], None] | None = None) -> None:
        """Drive job ``name`` in this worker process, then any job that claims it while it is kept warm
        (for the worker entry point, ``python -m crispml.jobworker``). ``after(job, principal)`` runs when a job
        with an ``Evaluation`` option has completed (the entry point evaluates it: services cannot call the
        evaluation service, which builds on this one)."""
        from crispml.services.training import warm
        from crispml.services.training.core import definition_of
        from crispml.services.training.executor import Driver

        while True:
            with self._reading() as session:
                row = self._job(session, name)
            request = definition_of(row)
            try:
                _preload(request)
                outcome = Driver(self, name).drive()
            except Exception as exc:  # a fault of the worker itself: the job ends now, saying so, not later
                self._end_with_fault(name, f"the worker failed: {type(exc).__name__}: {exc}")
                raise
            if outcome is None:  # another worker has taken the job (it was handed out twice): it is not ours
                return
            if after is not None and request.evaluation is not None and outcome.status == "Completed":
                after(name, row.principal)
            keep = request.resource_config.keep_alive_period_in_seconds
            if not keep:
                return
            following = warm.wait_for_job(self, name, row.pool_key, keep)
            if following is None:
                return
            name = following


def _preload(request: CreateTrainingJobRequest) -> None:
    """Import the job's libraries in the worker, so that its forked process (and the next job's) need not."""
    import importlib

    from crispml.services.training.frameworks import FRAMEWORKS, framework_of

    spec = request.algorithm_specification
    if spec.algorithm_name is not None:
        from crispml.services.training import algorithms

        modules = algorithms.get(spec.algorithm_name).libraries
    else:
        assert spec.training_image is not None
        modules = FRAMEWORKS[framework_of(spec.training_image)]
    if any((c.content_type or "").lower().startswith("application/x-parquet") for c in request.input_data_config):
        # pandas.read_parquet imports pyarrow.dataset on first use: 0.2 s in every forked job otherwise
        modules = (*modules, "pyarrow.parquet", "pyarrow.dataset")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
