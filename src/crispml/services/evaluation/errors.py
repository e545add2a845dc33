"""Evaluation errors: what was asked of which outputs, and what to ask instead.

::

    InvalidArgument
    ├── MetricNotApplicable   a regression metric asked of a classifier's outputs, or the reverse
    └── InvalidPredictions    outputs that cannot be scored: lengths differ, no rows, NaN, one class only …
"""

from __future__ import annotations

from crispml.core.errors import InvalidArgument

__all__ = ["InvalidPredictions", "MetricNotApplicable"]


class MetricNotApplicable(InvalidArgument):
    code = "MetricNotApplicable"


class InvalidPredictions(InvalidArgument):
    code = "InvalidPredictions"
