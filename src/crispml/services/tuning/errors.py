"""Tuning errors, with SageMaker's error codes.

::

    InvalidArgument  ── ValidationException      a request SageMaker would refuse: a range with min > max,
                                                 logarithmic scaling from 0, AUTO early stopping with Hyperband,
                                                 an objective metric the algorithm does not emit, too many ranges
    NotFound         ── ResourceNotFound         no such tuning job
    Conflict         ── ResourceInUse            CreateHyperParameterTuningJob of a name that exists
    LimitExceeded    ── ResourceLimitExceeded    more training jobs than a tuning job may run

A trial that fails while it runs is not raised: it is a training job that
ends ``Failed`` and is counted as such.
"""

from __future__ import annotations

from crispml.core.errors import Conflict, InvalidArgument, LimitExceeded, NotFound

__all__ = ["ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound", "ValidationException"]


class ValidationException(InvalidArgument):
    code = "ValidationException"


class ResourceNotFound(NotFound):
    code = "ResourceNotFound"


class ResourceInUse(Conflict):
    code = "ResourceInUse"


class ResourceLimitExceeded(LimitExceeded):
    code = "ResourceLimitExceeded"
