"""Firehose requests and responses: Firehose's operations and fields, in snake_case.

Limits that make a whole request invalid (more than 500 records or 4 MiB in a
PutRecordBatch call) are checked here, once; a record over 1,000 KiB is
refused by PutRecord, and reported for itself in PutRecordBatch's response
while the others are buffered. Record data is bytes; a ``str`` is taken as
UTF-8 text, as boto3 does. ``FlushDeliveryStream`` is crispml's addition:
Firehose delivers on its own schedule, crispml when a delivery runs.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, model_validator

from crispml.services.firehose.entities import (
    DeliveryResult,
    DeliveryStreamDescription,
    DeliveryStreamType,
    ExtendedS3DestinationConfiguration,
    IcebergDestinationConfiguration,
    KinesisStreamSourceConfiguration,
    PutRecordBatchResponseEntry,
)
from crispml.services.firehose.errors import InvalidArgumentException
from crispml.services.firehose.rules import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, check_delivery_stream_name
from crispml.spine.models import Request, Response, Shape

#: Record data inside a JSON field: kept out of the audit record, as bodies are.
UNAUDITED: Any = {"secret": True}

DeliveryStreamName = Annotated[str, AfterValidator(check_delivery_stream_name),
                               Field(description="Delivery stream name.")]


class EmptyResponse(Response):
    """A Firehose operation that returns nothing but success."""


class CreateDeliveryStreamRequest(Request):
    delivery_stream_name: DeliveryStreamName
    delivery_stream_type: DeliveryStreamType = Field(
        "DirectPut", description="DirectPut (PutRecord, PutRecordBatch) or KinesisStreamAsSource.")
    kinesis_stream_source_configuration: KinesisStreamSourceConfiguration | None = Field(
        None, description='With KinesisStreamAsSource: {"KinesisStreamARN": "crn:crispml:streams:::stream/NAME"}.')
    extended_s3_destination_configuration: ExtendedS3DestinationConfiguration | None = Field(
        None, description='A lake bucket: {"BucketARN": "lake://BUCKET", "Prefix": "…", "BufferingHints": {…}, …}.')
    iceberg_destination_configuration: IcebergDestinationConfiguration | None = Field(
        None, description='A managed table: {"DestinationTableConfigurationList": [{"DestinationDatabaseName": …, '
                          '"DestinationTableName": …}], "S3Configuration": {"BucketARN": …}}.')

    @model_validator(mode="after")
    def _check(self) -> CreateDeliveryStreamRequest:
        given = [d for d in (self.extended_s3_destination_configuration, self.iceberg_destination_configuration)
                 if d is not None]
        if len(given) != 1:
            raise InvalidArgumentException(
                "give exactly one destination: ExtendedS3DestinationConfiguration (a lake bucket) or "
                "IcebergDestinationConfiguration (a managed table)")
        source = self.kinesis_stream_source_configuration
        if self.delivery_stream_type == "KinesisStreamAsSource" and source is None:
            raise InvalidArgumentException("KinesisStreamAsSource needs a KinesisStreamSourceConfiguration")
        if self.delivery_stream_type == "DirectPut" and source is not None:
            raise InvalidArgumentException(
                "KinesisStreamSourceConfiguration is only allowed with DeliveryStreamType KinesisStreamAsSource")
        return self


class CreateDeliveryStreamResponse(Response):
    delivery_stream_arn: str


class DescribeDeliveryStreamRequest(Request):
    delivery_stream_name: DeliveryStreamName
    limit: int = Field(100, ge=1, le=10_000, description="Destinations to show (1-10,000).")
    exclusive_start_destination_id: str | None = Field(None, max_length=100,
                                                       description="Show destinations after this one.")


class DescribeDeliveryStreamResponse(Response):
    delivery_stream_description: DeliveryStreamDescription


class ListDeliveryStreamsRequest(Request):
    limit: int = Field(10, ge=1, le=10_000, description="Names per page (1-10,000).")
    delivery_stream_type: DeliveryStreamType | None = Field(None, description="Only streams of this type.")
    exclusive_start_delivery_stream_name: str | None = Field(None, max_length=64,
                                                             description="List names after this one.")


class ListDeliveryStreamsResponse(Response):
    delivery_stream_names: list[str]
    has_more_delivery_streams: bool


class DeleteDeliveryStreamRequest(Request):
    delivery_stream_name: DeliveryStreamName
    allow_force_delete: bool = Field(
        False, description="Delete at once, dropping records not yet delivered (default: deliver them first).")


class FirehoseRecord(Shape):
    data: bytes = Field(description="The record's bytes (a str is taken as UTF-8 text).")


class PutRecordRequest(Request):
    delivery_stream_name: DeliveryStreamName
    record: FirehoseRecord = Field(json_schema_extra=UNAUDITED, description='{"Data": "…"} (up to 1,000 KiB).')


class PutRecordResponse(Response):
    record_id: str
    encrypted: bool = False


class PutRecordBatchRequest(Request):
    delivery_stream_name: DeliveryStreamName
    records: list[FirehoseRecord] = Field(
        min_length=1, max_length=MAX_BATCH_RECORDS, json_schema_extra=UNAUDITED,
        description='[{"Data": "…"}, …] (1-500 records, 4 MiB in all).')

    @model_validator(mode="after")
    def _check_total(self) -> PutRecordBatchRequest:
        total = sum(len(r.data) for r in self.records)
        if total > MAX_BATCH_BYTES:
            raise InvalidArgumentException(
                f"PutRecordBatch request of {total:,} bytes is larger than the 4 MiB ({MAX_BATCH_BYTES:,} bytes) "
                "one call may carry; send the records in smaller batches")
        return self


class PutRecordBatchResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"request_responses": ["record_id", "error_code",
                                                                           "error_message"]}
    failed_put_count: int
    encrypted: bool = False
    request_responses: list[PutRecordBatchResponseEntry]


class FlushDeliveryStreamRequest(Request):
    delivery_stream_name: DeliveryStreamName | None = Field(
        None, description="The delivery stream to deliver (default: every delivery stream).")
    force: bool = Field(False, description="Deliver everything buffered, not only the buffers that are due.")


class FlushDeliveryStreamResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"deliveries": [
        "delivery_stream_name", "records_delivered", "records_failed", "records_dropped", "buffered_records",
        "error_code"]}
    deliveries: list[DeliveryResult]

