"""Catalog errors, with Glue's error codes.

::

    InvalidArgument  ── InvalidInputException            a name, shape or value Glue would refuse
    NotFound         ── EntityNotFoundException          no such database, table, version or partition
    AlreadyExists    ── AlreadyExistsException           the database, table or partition exists already
    Conflict         ── ConcurrentModificationException  UpdateTable named a VersionId that is no longer current
"""

from crispml.core.errors import AlreadyExists, Conflict, InvalidArgument, NotFound


class InvalidInputException(InvalidArgument):
    code = "InvalidInputException"


class EntityNotFoundException(NotFound):
    code = "EntityNotFoundException"


class AlreadyExistsException(AlreadyExists):
    code = "AlreadyExistsException"


class ConcurrentModificationException(Conflict):
    code = "ConcurrentModificationException"
