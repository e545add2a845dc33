"""Catalog errors, with Glue's error codes.

::

    InvalidArgument  ── InvalidInputException            a name, shape or value Glue would refuse
    NotFound         ── EntityNotFoundException          no such database, table, version or partition
    AlreadyExists    ── AlreadyExistsException           the database, table or partition exists already
    Conflict         ── ConcurrentModificationException  UpdateTable named a VersionId that is no longer current
                     ── CrawlerRunningException          the crawler is running (start, update or delete refused)
                     ── CrawlerNotRunningException       StopCrawler on a crawler that is not running
                     ── CrawlerStoppingException         StopCrawler/StartCrawler while a stop is under way
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


class CrawlerRunningException(Conflict):
    code = "CrawlerRunningException"


class CrawlerNotRunningException(Conflict):
    code = "CrawlerNotRunningException"


class CrawlerStoppingException(Conflict):
    code = "CrawlerStoppingException"
