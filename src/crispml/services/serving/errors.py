"""Serving errors, with SageMaker's error codes (the training service's classes: one class per code).

::

    InvalidArgument  ── ValidationException   a request SageMaker would refuse: a variant weight below 0,
                                              a shadow variant without exactly one production variant,
                                              an update of an endpoint that is not InService
    NotFound         ── ResourceNotFound      no such endpoint, endpoint configuration or model
    Conflict         ── ResourceInUse         a name that exists; a configuration an endpoint still uses
    LimitExceeded    ── ResourceLimitExceeded more instances than the machine may start

Application Auto Scaling's own codes, for its operations (``scaling.py``), which
refuse bad input with the same ``ValidationException``::

    NotFound         ── ObjectNotFoundException   no scalable target registered, no such scaling policy
    InvalidArgument  ── InvalidNextTokenException a NextToken no listing returned

The runtime front answers SageMaker Runtime's errors over HTTP (``runtime/front.py``): ``ModelError``
(424), ``ValidationError`` (400), ``ModelNotReadyException`` (429) and ``ServiceUnavailable`` (503).
"""

from __future__ import annotations

from crispml.core.errors import InvalidArgument, NotFound, Unavailable
from crispml.services.training.service import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)

__all__ = ["InvalidNextTokenException", "ModelError", "ObjectNotFoundException", "ResourceInUse",
           "ResourceLimitExceeded", "ResourceNotFound", "RuntimeUnavailable", "ValidationException"]


class ModelError(ValidationException):
    """The model failed to answer a request (SageMaker Runtime's ``ModelError``, HTTP 424 at the front)."""

    code = "ModelError"


class RuntimeUnavailable(Unavailable):
    """The serving runtime could not be reached or started."""

    code = "RuntimeUnavailable"


class ObjectNotFoundException(NotFound):
    """No scalable target, or no scaling policy, by that name (Application Auto Scaling)."""

    code = "ObjectNotFoundException"


class InvalidNextTokenException(InvalidArgument):
    """A NextToken that no Application Auto Scaling listing returned."""

    code = "InvalidNextTokenException"
