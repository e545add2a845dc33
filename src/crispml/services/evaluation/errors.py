"""Evaluation errors: what was asked of which outputs, and what to ask instead.

::

    InvalidArgument
    ├── MetricNotApplicable   a regression metric asked of a classifier's outputs, or the reverse
    ├── InvalidPredictions    outputs that cannot be scored: lengths differ, no rows, NaN, one class only …
    └── ValidationException   a request refused before anything runs (a test table missing a feature column)
    NotFound ── ResourceNotFound   no such evaluation job
    Conflict ── ResourceInUse      an evaluation job name that exists
"""

from __future__ import annotations

from crispml.core.errors import InvalidArgument
from crispml.services.training.service import ResourceInUse, ResourceNotFound, ValidationException

__all__ = ["InvalidPredictions", "MetricNotApplicable", "ResourceInUse", "ResourceNotFound", "ValidationException"]


class MetricNotApplicable(InvalidArgument):
    code = "MetricNotApplicable"


class InvalidPredictions(InvalidArgument):
    code = "InvalidPredictions"

