"""Registry errors, with SageMaker's error codes (the training service's classes: one class per code).

::

    InvalidArgument  ── ValidationException      a request SageMaker would refuse: a bad name or ARN, an
                     │                           image that is neither a built-in algorithm nor a framework,
                     │                           a training job that did not complete
                     └─ InvalidInferenceScript   a script model's code cannot serve (no model_fn, no script)
    NotFound         ── ResourceNotFound         no such model, model package group or version
    Conflict         ── ResourceInUse            a name that exists; a group that still has versions
"""

from __future__ import annotations

# SageMaker's codes name one class each: the registry raises the ones the training service defines.
from crispml.services.training.service import ResourceInUse, ResourceNotFound, ValidationException

__all__ = ["InvalidInferenceScript", "ResourceInUse", "ResourceNotFound", "ValidationException"]


class InvalidInferenceScript(ValidationException):
    """The inference script of a model cannot serve it (SageMaker's container would fail to start)."""

    code = "InvalidInferenceScript"
