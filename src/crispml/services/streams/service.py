"""The streams service (Kinesis Data Streams): one class combining the operation groups.

Streams and shards (``streams.py``), resharding (``resharding.py``) and records
(``records.py``) share the helpers in ``core.py``; records live in a record store
chosen per stream (``backends/``: the metadata DB, or Redis Streams). The
consumer library (``consumer.py``) reads streams through these operations and
keeps its leases in the metadata DB, as the KCL keeps them in DynamoDB. Not
here: enhanced fan-out consumers (RegisterStreamConsumer, SubscribeToShard),
tags, server-side encryption, throughput throttling and on-demand autoscaling
(an ON_DEMAND stream keeps its 4 shards until resharded).
"""

from __future__ import annotations

import threading

from crispml.services.streams.backends.base import RecordStore
from crispml.services.streams.records import RecordOps
from crispml.services.streams.resharding import ReshardOps
from crispml.services.streams.specs import (
    CreateStreamRequest,
    DeleteStreamRequest,
    DescribeStreamRequest,
    GetRecordsRequest,
    GetShardIteratorRequest,
    ListShardsRequest,
    ListStreamsRequest,
    MergeShardsRequest,
    PutRecordRequest,
    PutRecordsRequest,
    RetentionRequest,
    SplitShardRequest,
    StreamRequest,
    UpdateShardCountRequest,
)
from crispml.services.streams.streams import StreamOps
from crispml.spine.operations import Runtime, Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CreateStreamRequest", "DeleteStreamRequest", "DescribeStreamRequest", "GetRecordsRequest",
    "GetShardIteratorRequest", "ListShardsRequest", "ListStreamsRequest", "MergeShardsRequest",
    "PutRecordRequest", "PutRecordsRequest", "RetentionRequest", "SplitShardRequest", "StreamRequest",
    "StreamsService", "UpdateShardCountRequest"
]


class StreamsService(Service, StreamOps, ReshardOps, RecordOps):
    """Kinesis Data Streams: streams, shards, records, iterators, retention, resharding."""

    name = "streams"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._stores: dict[str, RecordStore] = {}
        self._stores_lock = threading.Lock()
        self._store_urls: dict[str, str] = {}

    def close(self) -> None:
        """Release the record stores' connections."""
        with self._stores_lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
