"""Lake errors, with S3's error codes."""

from crispml.core.errors import AlreadyExists, Conflict, InvalidArgument, NotFound


class InvalidBucketName(InvalidArgument):
    code = "InvalidBucketName"


class InvalidKey(InvalidArgument):
    """An object key S3 would not store or that could escape its bucket ('..' segments)."""

    code = "InvalidKey"


class KeyTooLong(InvalidKey):
    code = "KeyTooLongError"


class InvalidRange(InvalidArgument):
    code = "InvalidRange"


class InvalidPart(InvalidArgument):
    code = "InvalidPart"


class MalformedLifecycle(InvalidArgument):
    code = "MalformedXML"


class NoSuchBucket(NotFound):
    code = "NoSuchBucket"


class NoSuchKey(NotFound):
    code = "NoSuchKey"


class ObjectDataMissing(NotFound):
    """An object the lake lists whose bytes are gone from the store (deleted or lost outside crispml):
    retrying cannot help, restoring the file or deleting the object does."""

    code = "ObjectDataMissing"


class NoSuchVersion(NotFound):
    code = "NoSuchVersion"


class NoSuchUpload(NotFound):
    code = "NoSuchUpload"


class NoSuchLifecycleConfiguration(NotFound):
    code = "NoSuchLifecycleConfiguration"


class BucketAlreadyOwnedByYou(AlreadyExists):
    code = "BucketAlreadyOwnedByYou"


class BucketNotEmpty(Conflict):
    code = "BucketNotEmpty"


class InvalidObjectState(Conflict):
    code = "InvalidObjectState"


class MethodNotAllowed(Conflict):
    code = "MethodNotAllowed"
