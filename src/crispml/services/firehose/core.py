"""Shared machinery of the Firehose operations: lookups with helpful misses, times, and descriptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

from crispml.core.names import crn
from crispml.services.firehose import buffer
from crispml.services.firehose.buffer import StreamInfo
from crispml.services.firehose.config import destination_of
from crispml.services.firehose.entities import (
    DeliveryStreamDescription,
    DeliveryStreamStatus,
    DeliveryStreamType,
    DestinationDescription,
    ExtendedS3DestinationConfiguration,
    FailureDescription,
    KinesisStreamSourceDescription,
    SourceDescription,
)
from crispml.services.firehose.rules import DESTINATION_ID, VERSION_ID, delivery_stream_crn
from crispml.spine.operations import RuntimeAccess


def to_ms(when: datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class FirehoseCore(RuntimeAccess):
    """Helpers shared by the Firehose operation groups."""

    def _now_ms(self) -> int:
        return to_ms(self.clock.now())

    def _stream(self, name: str) -> StreamInfo:
        with self.db.connect() as conn:
            return buffer.load_stream(conn, name)

    @staticmethod
    def _description(stream: StreamInfo, *, limit: int, after: str | None) -> DeliveryStreamDescription:
        destination = destination_of(stream.configuration)
        described = DestinationDescription(destination_id=DESTINATION_ID)
        if isinstance(destination, ExtendedS3DestinationConfiguration):
            described.extended_s3_destination_description = destination
        else:
            described.iceberg_destination_description = destination
        destinations = [described] if (after is None or after < DESTINATION_ID) and limit >= 1 else []
        source = None
        if stream.source_stream is not None:
            source = SourceDescription(kinesis_stream_source_description=KinesisStreamSourceDescription(
                kinesis_stream_arn=crn("streams", f"stream/{stream.source_stream}"),
                delivery_start_timestamp=stream.created_at))
        failure = FailureDescription.model_validate(json.loads(stream.failure)) if stream.failure else None
        return DeliveryStreamDescription(
            delivery_stream_name=stream.name, delivery_stream_arn=delivery_stream_crn(stream.name),
            delivery_stream_status=cast(DeliveryStreamStatus, stream.status),
            delivery_stream_type=cast(DeliveryStreamType, stream.stream_type),
            version_id=VERSION_ID, create_timestamp=stream.created_at, source=source, destinations=destinations,
            has_more_destinations=False, failure_description=failure, buffered_records=stream.buffered_records,
            buffered_bytes=stream.buffered_bytes,
            oldest_buffered_arrival=from_ms(stream.oldest_arrival_ms) if stream.oldest_arrival_ms is not None else None,
            delivery_principal=stream.principal)
