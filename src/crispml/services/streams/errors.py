"""Streams errors, with Kinesis's error codes.

::

    InvalidArgument  ── InvalidArgumentException     a value Kinesis would refuse (name, key, size, position)
                     ── ExpiredIteratorException     a shard iterator older than 5 minutes
                     ── ExpiredNextTokenException    a ListShards NextToken older than 5 minutes
    NotFound         ── ResourceNotFoundException    no such stream or shard (or the stream is being deleted)
    Conflict         ── ResourceInUseException       the stream exists already, or is not ACTIVE for this change
    LimitExceeded    ── LimitExceededException       more open shards than the home's quota
    Unavailable      ── RecordStoreUnavailable       the Redis server holding a stream's records cannot be reached
"""

from crispml.core.errors import (
    InvalidArgument,
    InvalidArgumentException,
    LimitExceeded,
    ResourceInUseException,
    ResourceNotFoundException,
    Unavailable,
)

#: The service's errors, AWS's shared names among them.
__all__ = ["ExpiredIteratorException", "ExpiredNextTokenException", "InvalidArgumentException",
           "LimitExceededException", "RecordStoreUnavailable", "ResourceInUseException", "ResourceNotFoundException"]

class ExpiredIteratorException(InvalidArgument):
    code = "ExpiredIteratorException"


class ExpiredNextTokenException(InvalidArgument):
    code = "ExpiredNextTokenException"




class LimitExceededException(LimitExceeded):
    code = "LimitExceededException"


class RecordStoreUnavailable(Unavailable):
    code = "ServiceUnavailable"
