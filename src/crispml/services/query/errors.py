"""Query errors, with Athena's error codes, and the way back from a failed execution's error type.

::

    InvalidArgument  ── InvalidRequestException     a request Athena would refuse: bad output location,
                                                    disabled workgroup, results of an unfinished query,
                                                    a reused ClientRequestToken with other parameters,
                                                    no such (or a malformed) query execution id, no such
                                                    workgroup (Athena's codes for those)
    NotFound         ── ResourceNotFoundException   results gone from the lake
    AlreadyExists    ── WorkGroupAlreadyExists      CreateWorkGroup of a name that exists
    Conflict         ── QueryCancelledError         ``crispml sql`` waited for a query someone stopped

A statement that fails while it runs is not raised: its execution ends
``FAILED`` with ``AthenaError.ErrorType`` naming a crispml error class
(``LimitExceeded``, ``InvalidArgument``, ``NotFound`` …); :func:`error_for`
turns it back into that class for a caller that waits (``crispml sql``).
"""

from __future__ import annotations

from crispml.core import errors as core
from crispml.core.errors import (
    AlreadyExists,
    Conflict,
    CrispmlError,
    InvalidArgument,
    ResourceNotFoundException,
)

#: The service's errors, AWS's shared names among them.
__all__ = ["InvalidRequestException", "QueryCancelledError", "ResourceNotFoundException", "WorkGroupAlreadyExists"]

class InvalidRequestException(InvalidArgument):
    code = "InvalidRequestException"



class WorkGroupAlreadyExists(AlreadyExists):
    code = "WorkGroupAlreadyExists"


class QueryCancelledError(Conflict):
    code = "QueryCancelled"


#: The core classes by class name, for error types that name a class rather than a code
#: (``PermissionDenied``'s code is ``AccessDenied``; engines say ``InternalError`` for a fault).
_BY_CLASS_NAME: dict[str, type[CrispmlError]] = {
    cls.__name__: cls for cls in (
        core.InvalidArgument, core.NotFound, core.AlreadyExists, core.Conflict, core.PermissionDenied,
        core.Unauthenticated, core.LimitExceeded, core.Unavailable, core.Internal,
    )
}
_BY_CLASS_NAME["InternalError"] = core.Internal


def error_class(error_type: str | None) -> type[CrispmlError]:
    """The crispml error class an execution's ``ErrorType`` names (``Internal`` if none does)."""
    if not error_type:
        return core.Internal
    return core.ERRORS_BY_CODE.get(error_type) or _BY_CLASS_NAME.get(error_type) or core.Internal


def error_for(error_type: str | None, message: str) -> CrispmlError:
    """The error a failed execution stands for, ready to raise."""
    return error_class(error_type)(message)


def error_category(error_type: str | None) -> int:
    """Athena's ``ErrorCategory``: 1 SYSTEM (the platform failed), 2 USER (the query or its data)."""
    family = error_class(error_type).family
    return 1 if family in ("Internal", "Unavailable") else 2
