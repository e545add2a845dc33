"""The firehose service (Kinesis Data Firehose): one class combining the operation groups.

Delivery streams (``delivery_streams.py``), records (``records.py``) and
deliveries (``flush.py``, with :meth:`FirehoseService.deliver_due`, the one
function that delivers) share the durable buffer in ``buffer.py``. A delivery
(``delivery.py``) runs records through the processor (``processor.py``),
dynamic partitioning (``partitioning.py``) and record format conversion
(``convert.py``) into objects keyed as Firehose keys them (``prefixes.py``), or
into a managed table; a Kinesis stream source is read by ``source.py``.
Delivery is at least once: an acknowledged record is never lost, and a
process killed between writing a batch and marking it delivered makes the next
delivery write that batch again.

Not here: destinations other than the lake and managed tables (Redshift,
OpenSearch, Splunk, HTTP endpoints), UpdateDestination (a stream's version
stays 1), ORC output, server-side encryption settings, tags, CustomTimeZone and
FileExtension, RoleARN (deliveries act as the principal that created the
stream), buffering per dynamic partition (the hints apply to the stream's
whole buffer), and a Lambda processor's own buffering interval (records reach
it when the destination buffer is delivered).
"""

from __future__ import annotations

from crispml.services.firehose.config import DeliveryPlan
from crispml.services.firehose.delivery_streams import DeliveryStreamOps
from crispml.services.firehose.records import RecordOps
from crispml.services.firehose.specs import (
    CreateDeliveryStreamRequest,
    DeleteDeliveryStreamRequest,
    DescribeDeliveryStreamRequest,
    FlushDeliveryStreamRequest,
    ListDeliveryStreamsRequest,
    PutRecordBatchRequest,
    PutRecordRequest,
)
from crispml.spine.operations import Runtime, Service

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CreateDeliveryStreamRequest", "DeleteDeliveryStreamRequest", "DescribeDeliveryStreamRequest",
    "FirehoseService", "FlushDeliveryStreamRequest", "ListDeliveryStreamsRequest", "PutRecordBatchRequest",
    "PutRecordRequest"
]


class FirehoseService(Service, DeliveryStreamOps, RecordOps):
    """Kinesis Data Firehose: delivery streams that buffer records and deliver them to the lake."""

    name = "firehose"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._plans: dict[str, DeliveryPlan] = {}
