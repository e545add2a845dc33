"""The one error tree of crispml, with stable codes and one HTTP status table.

::

    CrispmlError                      code            HTTP
    ├── InvalidArgument  (ValueError)   InvalidArgument   400
    ├── NotFound         (LookupError)  NotFound          404
    ├── AlreadyExists                   AlreadyExists     409
    ├── Conflict                        Conflict          409
    ├── PermissionDenied (PermissionError) AccessDenied   403
    ├── Unauthenticated  (PermissionError) Unauthenticated 401
    ├── LimitExceeded                   LimitExceeded     429
    ├── Unavailable      (ConnectionError) Unavailable    503
    │   ├── StorageFull                 StorageFull       503
    │   ├── StorageReadOnly             StorageReadOnly   503
    │   └── StorageCorrupted            StorageCorrupted  503
    └── Internal         (RuntimeError)  Internal         500

``MetadataLost`` (a ``Conflict``) refuses a home whose metadata DB is gone
while its lake holds data. The ``Storage…`` errors name a fault of the disk
or database under crispml (full, read-only, damaged) and what to do about it;
they are not bugs, so the CLI treats them as any other refusal.

Services subclass these for their own cases (``NoSuchBucket(NotFound)``) and
give each subclass its own AWS-style ``code``; the HTTP status comes from the
nearest family above it, so one table decides every status. The remote SDK
will re-raise the same class from a code. Messages say what was wrong and what
to do, and never carry a credential.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: Every error class by its stable code, filled as classes are defined.
ERRORS_BY_CODE: dict[str, type[CrispmlError]] = {}


class CrispmlError(Exception):
    """Root of every error crispml raises on purpose."""

    code: ClassVar[str] = "CrispmlError"
    family: ClassVar[str] = "Internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.family]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **({"details": self.details} if self.details else {})}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ERRORS_BY_CODE.setdefault(cls.code, cls)


class InvalidArgument(CrispmlError, ValueError):
    code = "InvalidArgument"
    family = "InvalidArgument"


class NotFound(CrispmlError, LookupError):
    code = "NotFound"
    family = "NotFound"


class AlreadyExists(CrispmlError):
    code = "AlreadyExists"
    family = "AlreadyExists"


class Conflict(CrispmlError):
    code = "Conflict"
    family = "Conflict"


class PermissionDenied(CrispmlError, PermissionError):
    code = "AccessDenied"
    family = "PermissionDenied"


class Unauthenticated(CrispmlError, PermissionError):
    code = "Unauthenticated"
    family = "Unauthenticated"


class LimitExceeded(CrispmlError):
    code = "LimitExceeded"
    family = "LimitExceeded"


class Unavailable(CrispmlError, ConnectionError):
    code = "Unavailable"
    family = "Unavailable"


class Internal(CrispmlError, RuntimeError):
    code = "Internal"
    family = "Internal"


class StorageFull(Unavailable):
    """The disk (or the file size limit, or the database server's disk) under the metadata DB or the lake is full."""

    code = "StorageFull"


class StorageReadOnly(Unavailable):
    """The metadata DB or the lake folder cannot be written: permissions, a read-only mount or a read-only server."""

    code = "StorageReadOnly"


class StorageCorrupted(Unavailable):
    """The metadata DB file is damaged (a corrupted page, or not a database at all)."""

    code = "StorageCorrupted"


class MetadataLost(Conflict):
    """A home whose metadata DB is empty or missing while its lake holds data: opening it would start over."""

    code = "MetadataLost"


# -- exception names several AWS services share (Kinesis, Firehose, Athena): one class per code,
# so that a code read back from a remote server rebuilds a class every service's error is an instance of


class InvalidArgumentException(InvalidArgument):
    code = "InvalidArgumentException"


class ResourceNotFoundException(NotFound):
    code = "ResourceNotFoundException"


class ResourceInUseException(Conflict):
    code = "ResourceInUseException"


# -- Glue's exception names, shared by the Data Catalog and Glue's jobs (the catalog and ingest services)


class InvalidInputException(InvalidArgument):
    code = "InvalidInputException"


class EntityNotFoundException(NotFound):
    code = "EntityNotFoundException"


class AlreadyExistsException(AlreadyExists):
    code = "AlreadyExistsException"


class ConcurrentModificationException(Conflict):
    code = "ConcurrentModificationException"


#: The one table from error family to HTTP status.
HTTP_STATUS: dict[str, int] = {
    "InvalidArgument": 400,
    "Unauthenticated": 401,
    "PermissionDenied": 403,
    "NotFound": 404,
    "AlreadyExists": 409,
    "Conflict": 409,
    "LimitExceeded": 429,
    "Internal": 500,
    "Unavailable": 503,
}



def error_from_code(code: str, message: str, **details: Any) -> CrispmlError:
    """Rebuild the error class a code names (for clients of a remote server)."""
    cls = ERRORS_BY_CODE.get(code, Internal)
    return cls(message, **details)
