"""Tuning errors, with SageMaker's error codes.

::

    InvalidArgument  ── ValidationException      a request SageMaker would refuse: a range with min > max,
                                                 logarithmic scaling from 0, AUTO early stopping with Hyperband,
                                                 an objective metric the algorithm does not emit, too many ranges
    NotFound         ── ResourceNotFound         no such tuning job
    Conflict         ── ResourceInUse            CreateHyperParameterTuningJob of a name that exists
    LimitExceeded    ── ResourceLimitExceeded    more training jobs than a tuning job may run

A trial that fails while it runs is not raised: it is a training job that
ends ``Failed`` and is counted as such. The classes are training's (one class
per error code: a code names one class wherever it is raised).
"""

from __future__ import annotations

from crispml.services.training.service import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)

__all__ = ["ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound", "ValidationException"]
