"""Training errors, with SageMaker's error codes.

::

    InvalidArgument  ── ValidationException      a request SageMaker would refuse: an unknown algorithm,
                                                 a hyperparameter out of range, an empty channel
    NotFound         ── ResourceNotFound         no such training job
    Conflict         ── ResourceInUse            CreateTrainingJob of a name that exists
    LimitExceeded    ── ResourceLimitExceeded    more CPUs or memory than this machine has

A job that fails while it runs is not raised: it ends ``Failed`` with its
``FailureReason``.
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
