"""The evaluation service (SageMaker Clarify / model quality): one class combining the operations.

- ``CreateEvaluationJob`` (``jobs.py``, ``run.py``): a model — a training
  job's artifact, a registry model or a registered version — judged on
  held-out rows from the catalog or the lake: classification, regression
  metrics, curves, the best threshold by a metric or by cost, permutation
  importance, and an HTML report in the lake.
- ``DescribeEvaluationJob``, ``ListEvaluationJobs`` (by the model judged).
- ``CompareEvaluations``: two models on the same rows, B − A with paired
  bootstrap intervals and McNemar's test (``compare.py``).

The engine — ``metrics.py``, ``curves.py``, ``compare.py``, ``report.py`` —
is plain functions over arrays, usable without the service.
"""

from __future__ import annotations

from crispml.services.evaluation.entities import Cost, EvaluationJob, ModelSource
from crispml.services.evaluation.jobs import EvaluationOps
from crispml.services.evaluation.specs import (
    CompareEvaluationsRequest,
    CreateEvaluationJobRequest,
    EvaluationJobRequest,
    ListEvaluationJobsRequest,
)
from crispml.spine.operations import Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CompareEvaluationsRequest",
    "Cost",
    "CreateEvaluationJobRequest",
    "EvaluationJob",
    "EvaluationJobRequest",
    "EvaluationService",
    "ListEvaluationJobsRequest",
    "ModelSource",
]


class EvaluationService(Service, EvaluationOps):
    name = "evaluation"
