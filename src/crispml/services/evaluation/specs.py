"""Evaluation requests and responses, checked once at the boundary.

Names are 1-63 letters, digits and hyphens (as SageMaker's job names); a
model source names exactly one model; the test data is one channel; the
output location is a lake prefix; bootstrap comparisons take 100-10,000
resamples and a confidence in (0.5, 1).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from crispml.core.hive import check_location
from crispml.services.evaluation.entities import (
    Cost,
    EvaluationJob,
    EvaluationJobSummary,
    EvaluationStatus,
    ModelSource,
    ProblemType,
)
from crispml.services.evaluation.errors import ValidationException
from crispml.services.training.service import Channel, JobName
from crispml.spine.models import Request, Response

ThresholdMetric = Literal["accuracy", "precision", "recall", "specificity", "f1"]


class CreateEvaluationJobRequest(Request):
    evaluation_job_name: JobName = Field(description="1-63 letters, digits or hyphens; unique.")
    model_source: ModelSource
    test_data: Channel = Field(description="The held-out rows: a catalog table with its LabelColumn, or a lake "
                                           "prefix of label-first CSV or Parquet.")
    problem_type: ProblemType
    metrics: list[str] | None = Field(None, description="Metrics that must apply (default: all of the problem "
                                                         "type's).")
    positive_label: str | None = Field(None, description="Binary: the positive class (default: the largest label).")
    threshold_metric: ThresholdMetric = Field("f1", description="Binary: the best threshold by this metric.")
    cost: Cost | None = Field(None, description="Binary: also the threshold of least expected cost.")
    feature_importance: bool = Field(True, description="Permutation importance of each feature (on at most "
                                                       "5,000 rows).")
    output_location: str = Field(description="Where the report and predictions go: 'lake://bucket/prefix/'.")


    @model_validator(mode="after")
    def _whole(self) -> CreateEvaluationJobRequest:
        given = [v for v in (self.model_source.training_job_name, self.model_source.model_name,
                             self.model_source.model_package_arn) if v]
        if len(given) != 1:
            raise ValidationException("ModelSource names exactly one of TrainingJobName, ModelName and "
                                      "ModelPackageArn")
        self.output_location = check_location(self.output_location, what="OutputLocation",
                                              error=ValidationException)
        return self


class EvaluationJobRequest(Request):
    evaluation_job_name: JobName



class DescribeEvaluationJobResponse(EvaluationJob, Response):
    """An evaluation job, as DescribeEvaluationJob returns it."""


class ListEvaluationJobsRequest(Request):
    model_source_contains: str | None = Field(None, description="Only evaluations of models whose source "
                                                                "('training-job/…', 'model/…') holds this.")
    status_equals: EvaluationStatus | None = None
    max_results: int = Field(50, ge=1, le=100)
    next_token: str | None = None


class ListEvaluationJobsResponse(Response):
    evaluation_job_summaries: list[EvaluationJobSummary]
    next_token: str | None = None


class CompareEvaluationsRequest(Request):
    evaluation_job_name_a: str = Field(description="Model A's evaluation (the one in production, say).")
    evaluation_job_name_b: str = Field(description="Model B's evaluation, on the same test data.")
    metrics: list[str] | None = Field(None, description="Default: accuracy and f1 (classifiers), rmse, mae and "
                                                         "r2 (regressors).")
    resamples: int = Field(1000, ge=100, le=10_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0


class CompareEvaluationsResponse(Response):
    rows: int
    resamples: int
    deltas: list[dict[str, Any]]
    mcnemar: dict[str, Any] | None = None
    verdicts: list[str]
