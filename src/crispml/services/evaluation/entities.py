"""Evaluation value objects, in snake_case (AWS PascalCase accepted as input).

``ModelSource`` names the model to evaluate — a training job's artifact, a
registry model, or a registered model package version; the test data is a
training-style ``Channel`` (a catalog table with its ``LabelColumn``, or a
lake prefix of label-first CSV or Parquet).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from crispml.services.training.service import ChannelLineage
from crispml.spine.models import Shape

ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression", "Clustering",
                      "AnomalyDetection"]
EvaluationStatus = Literal["InProgress", "Completed", "Failed"]


class ModelSource(Shape):
    training_job_name: str | None = Field(None, description="Evaluate this training job's model.tar.gz.")
    model_name: str | None = Field(None, description="Evaluate this registry model.")
    model_package_arn: str | None = Field(
        None, description="Evaluate this registered version ('group/version' or its ARN).")

    def describe(self) -> str:
        if self.training_job_name:
            return f"training-job/{self.training_job_name}"
        if self.model_name:
            return f"model/{self.model_name}"
        return f"model-package/{self.model_package_arn}"


class Cost(Shape):
    false_positive: float = Field(ge=0, description="What one false positive costs.")
    false_negative: float = Field(ge=0, description="What one false negative costs.")


class EvaluationJob(BaseModel):
    evaluation_job_name: str
    evaluation_job_arn: str
    status: EvaluationStatus
    failure_reason: str | None = None
    model_source: ModelSource
    problem_type: ProblemType
    test_data: ChannelLineage | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    threshold: dict[str, Any] | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)
    report_uri: str | None = None
    predictions_uri: str | None = None
    metrics_uri: str | None = Field(None, description="The metrics as JSON in the lake: what a model package's "
                                                      "ModelMetrics.ModelQuality.Statistics.S3Uri names.")
    creation_time: datetime
    end_time: datetime | None = None


class EvaluationJobSummary(BaseModel):
    evaluation_job_name: str
    status: EvaluationStatus
    model_source: str
    problem_type: ProblemType
    headline: str | None = None
    creation_time: datetime
