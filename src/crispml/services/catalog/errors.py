"""Catalog errors, with Glue's error codes.

::

    InvalidArgument  ── InvalidInputException            a name, shape or value Glue would refuse
    NotFound         ── EntityNotFoundException          no such database, table, version or partition
    AlreadyExists    ── AlreadyExistsException           the database, table or partition exists already
    Conflict         ── ConcurrentModificationException  UpdateTable named a VersionId that is no longer current
                     ── CrawlerRunningException          the crawler is running (start, update or delete refused)
                     ── CrawlerNotRunningException       StopCrawler on a crawler that is not running
                     ── CrawlerStoppingException         StopCrawler/StartCrawler while a stop is under way


The first four are Glue's names shared with Glue's jobs, so they live in ``crispml.core.errors``.
"""

from crispml.core.errors import (
    AlreadyExistsException,
    ConcurrentModificationException,
    Conflict,
    EntityNotFoundException,
    InvalidInputException,
)

__all__ = ["AlreadyExistsException", "ConcurrentModificationException", "CrawlerNotRunningException",
           "CrawlerRunningException", "CrawlerStoppingException", "EntityNotFoundException", "InvalidInputException"]


class CrawlerRunningException(Conflict):
    code = "CrawlerRunningException"


class CrawlerNotRunningException(Conflict):
    code = "CrawlerNotRunningException"


class CrawlerStoppingException(Conflict):
    code = "CrawlerStoppingException"
