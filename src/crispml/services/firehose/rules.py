"""Firehose's rules as plain functions and constants: names, limits, ARNs, and who owns a delivery.

Limits are Firehose's: a record holds at most 1,000 KiB, PutRecordBatch takes
at most 500 records and 4 MiB, buffering hints are 1-128 MiB (default 5) and
0-900 s (default 300); with record format conversion or dynamic partitioning
the buffer is at least 64 MiB (default 128), as Firehose requires.

ARNs: a bucket is named as Firehose names it (``arn:aws:s3:::bucket``), as a
crispml resource name (``crn:crispml:lake:::bucket/NAME``) or as a lake URL
(``lake://bucket``); a Kinesis stream by ``arn:aws:kinesis:…:stream/NAME``,
``crn:crispml:streams:::stream/NAME`` or its bare name.

A delivery is run by one process at a time per delivery stream: the stream row
names its owner (``host:pid:token``) until a lease runs out. An owner on this
host whose process has ended is gone at once (a killed process leaves its
claim behind); elsewhere its lease decides.
"""

from __future__ import annotations

import re
import uuid

from crispml.core.names import crn
from crispml.core.owners import process_owner
from crispml.services.firehose.errors import InvalidArgumentException

#: Firehose's limits.
MAX_RECORD_BYTES = 1_000 * 1024
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MIB = 1024 * 1024
DEFAULT_SIZE_MB = 5
MIN_SIZE_MB, MAX_SIZE_MB = 1, 128
DEFAULT_INTERVAL_S = 300
MIN_INTERVAL_S, MAX_INTERVAL_S = 0, 900
#: With record format conversion or dynamic partitioning, Firehose's buffer is larger.
LARGE_BUFFER_MIN_MB, LARGE_BUFFER_DEFAULT_MB = 64, 128
MAX_PREFIX_CHARS = 1024
#: The only destination of a delivery stream, and its version (no UpdateDestination here).
DESTINATION_ID = "destinationId-000000000001"
VERSION_ID = "1"
#: How long a process may hold a delivery stream's delivery before another may take it over.
DELIVERY_LEASE_MS = 5 * 60 * 1000

_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
_BUCKET_FORMS = (
    re.compile(r"arn:aws:s3:::(?P<bucket>[^/]+)"),
    re.compile(r"crn:crispml:lake:::bucket/(?P<bucket>[^/]+)"),
    re.compile(r"(?:lake|s3)://(?P<bucket>[^/]+)/?"),
)
_STREAM_FORMS = (
    re.compile(r"arn:aws:kinesis:[^:]*:[^:]*:stream/(?P<stream>[a-zA-Z0-9_.-]{1,128})"),
    re.compile(r"crn:crispml:streams:[^:]*:[^:]*:stream/(?P<stream>[a-zA-Z0-9_.-]{1,128})"),
    re.compile(r"(?P<stream>[a-zA-Z0-9_.-]{1,128})"),
)
_HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


def delivery_stream_crn(name: str | None) -> str:
    return crn("firehose", f"deliverystream/{name or '*'}")


def check_delivery_stream_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidArgumentException(
            f"delivery stream name {name!r} is not valid: use 1-64 letters, digits, '_', '.' or '-'")
    return name


def bucket_of(arn: str) -> str:
    """The bucket a BucketARN names."""
    for form in _BUCKET_FORMS:
        match = form.fullmatch(arn.strip())
        if match:
            return match.group("bucket")
    raise InvalidArgumentException(
        f"BucketARN {arn!r} does not name a bucket; use 'arn:aws:s3:::BUCKET', 'lake://BUCKET' or "
        "'crn:crispml:lake:::bucket/BUCKET' (a folder inside the bucket goes in Prefix)")


def stream_of(arn: str) -> str:
    """The Kinesis stream a KinesisStreamARN names."""
    for form in _STREAM_FORMS:
        match = form.fullmatch(arn.strip())
        if match:
            return match.group("stream")
    raise InvalidArgumentException(
        f"KinesisStreamARN {arn!r} does not name a stream; use 'crn:crispml:streams:::stream/NAME', "
        "'arn:aws:kinesis:REGION:ACCOUNT:stream/NAME' or the stream's name")


def check_handler(value: str) -> str:
    """A processor's LambdaArn: ``module:function`` (a Python callable crispml imports)."""
    if not _HANDLER.fullmatch(value):
        raise InvalidArgumentException(
            f"LambdaArn {value!r} is not a processor; give the Python callable as 'module:function' "
            "(for example 'my_transforms:handler')")
    return value


# -- who runs a delivery ------------------------------------------------------------------


def new_owner() -> str:
    """A fresh owner name for one delivery run: ``host:pid:token``."""
    return process_owner(uuid.uuid4().hex[:12])
