"""Delivery stream operations: create, describe, list, delete — and the input they refuse, each with a
typed error that says what was wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.firehose.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from tests.services.firehose.conftest import BUCKET, keys, lines, s3_destination


def test_create_describe_list_delete(fh_client: Client, firehose: Any) -> None:
    created = firehose.create_delivery_stream(delivery_stream_name="clicks",
                                              extended_s3_destination_configuration=s3_destination(Prefix="c/"))
    assert created.delivery_stream_arn == "crn:crispml:firehose:::deliverystream/clicks"
    firehose.create_delivery_stream(delivery_stream_name="orders", delivery_stream_type="DirectPut",
                                    extended_s3_destination_configuration={"BucketARN": f"lake://{BUCKET}"})
    described = firehose.describe_delivery_stream(delivery_stream_name="clicks").delivery_stream_description
    assert (described.delivery_stream_status, described.delivery_stream_type, described.version_id) == (
        "ACTIVE", "DirectPut", "1")
    assert described.delivery_principal == "root"
    (destination,) = described.destinations
    assert destination.destination_id == "destinationId-000000000001"
    s3 = destination.extended_s3_destination_description
    assert (s3.prefix, s3.compression_format, s3.buffering_hints.size_in_mbs,
            s3.buffering_hints.interval_in_seconds) == ("c/", "UNCOMPRESSED", 5, 300)  # Firehose's defaults
    assert firehose.describe_delivery_stream(delivery_stream_name="clicks", exclusive_start_destination_id=(
        "destinationId-000000000001")).delivery_stream_description.destinations == []

    listed = firehose.list_delivery_streams()
    assert (listed.delivery_stream_names, listed.has_more_delivery_streams) == (["clicks", "orders"], False)
    page = firehose.list_delivery_streams(limit=1)
    assert (page.delivery_stream_names, page.has_more_delivery_streams) == (["clicks"], True)
    after = firehose.list_delivery_streams(exclusive_start_delivery_stream_name="clicks")
    assert after.delivery_stream_names == ["orders"]
    assert firehose.list_delivery_streams(delivery_stream_type="KinesisStreamAsSource").delivery_stream_names == []

    # deleting delivers what is buffered first, then the stream is gone and its name free
    firehose.put_record(delivery_stream_name="clicks", record={"Data": b"last words"})
    firehose.delete_delivery_stream(delivery_stream_name="clicks")
    assert lines(fh_client, "c/") == [b"last words"]
    assert firehose.list_delivery_streams().delivery_stream_names == ["orders"]
    with pytest.raises(ResourceNotFoundException, match="clicks"):
        firehose.describe_delivery_stream(delivery_stream_name="clicks")
    firehose.create_delivery_stream(delivery_stream_name="clicks",
                                    extended_s3_destination_configuration=s3_destination(Prefix="c/"))
    assert firehose.describe_delivery_stream(
        delivery_stream_name="clicks").delivery_stream_description.buffered_records == 0


def test_a_stream_stays_deleting_until_its_records_can_be_delivered(fh_client: Client, firehose: Any) -> None:
    fh_client.lake.create_bucket(bucket="gone-soon")
    firehose.create_delivery_stream(delivery_stream_name="stuck",
                                    extended_s3_destination_configuration={"BucketARN": "lake://gone-soon"})
    firehose.put_record(delivery_stream_name="stuck", record={"Data": b"precious"})
    fh_client.lake.delete_bucket(bucket="gone-soon")
    firehose.delete_delivery_stream(delivery_stream_name="stuck")
    described = firehose.describe_delivery_stream(delivery_stream_name="stuck").delivery_stream_description
    assert (described.delivery_stream_status, described.buffered_records) == ("DELETING", 1)
    assert described.failure_description is not None
    with pytest.raises(ResourceInUseException, match="DELETING"):
        firehose.put_record(delivery_stream_name="stuck", record={"Data": b"more"})
    with pytest.raises(ResourceInUseException, match="already exists"):
        firehose.create_delivery_stream(delivery_stream_name="stuck",
                                        extended_s3_destination_configuration=s3_destination())
    fh_client.lake.create_bucket(bucket="gone-soon")
    firehose.flush_delivery_stream()  # any later delivery finishes the deletion
    assert lines(fh_client, bucket="gone-soon") == [b"precious"]
    assert firehose.list_delivery_streams().delivery_stream_names == []


def test_force_delete_drops_buffered_records(fh_client: Client, firehose: Any) -> None:
    firehose.create_delivery_stream(delivery_stream_name="drop", extended_s3_destination_configuration=s3_destination())
    firehose.put_record(delivery_stream_name="drop", record={"Data": b"dropped"})
    firehose.delete_delivery_stream(delivery_stream_name="drop", allow_force_delete=True)
    assert firehose.list_delivery_streams().delivery_stream_names == []
    assert keys(fh_client) == []
    with pytest.raises(ResourceNotFoundException):
        firehose.delete_delivery_stream(delivery_stream_name="drop")


@pytest.mark.parametrize(("fields", "error", "message"), [
    ({"delivery_stream_name": "bad name!"}, InvalidArgumentException, "1-64 letters"),
    ({"delivery_stream_name": "x" * 65}, InvalidArgumentException, "1-64 letters"),
    ({"extended_s3_destination_configuration": None}, InvalidArgumentException, "exactly one destination"),
    ({"iceberg_destination_configuration": {"DestinationTableConfigurationList": [
        {"DestinationDatabaseName": "d", "DestinationTableName": "t"}], "S3Configuration": {"BucketARN": "lake://b"}}},
     InvalidArgumentException, "exactly one destination"),
    ({"extended_s3_destination_configuration": {"BucketARN": "arn:aws:s3:::nowhere"}},
     InvalidArgumentException, "bucket 'nowhere' does not exist"),
    ({"extended_s3_destination_configuration": {"BucketARN": "lake://landing/sub/folder"}},
     InvalidArgumentException, "goes in Prefix"),
    ({"extended_s3_destination_configuration": s3_destination(BufferingHints={"SizeInMBs": 129})},
     InvalidArgument, "size_in_mbs"),
    ({"extended_s3_destination_configuration": s3_destination(BufferingHints={"IntervalInSeconds": 901})},
     InvalidArgument, "interval_in_seconds"),
    ({"extended_s3_destination_configuration": s3_destination(CompressionFormat="Snappy")},
     InvalidArgument, "compression_format"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="p/!{timestamp:yyyy}/")},
     InvalidArgumentException, "ErrorOutputPrefix is required"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="p/!{timestamp:yyyy}/",
                                                              ErrorOutputPrefix="e/!{timestamp:yyyy}/")},
     InvalidArgumentException, "!{firehose:error-output-type} at least once"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="!{firehose:error-output-type}/")},
     InvalidArgumentException, "belongs in ErrorOutputPrefix"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="!{timestamp:yyyy-QQ}/",
                                                              ErrorOutputPrefix="e/")},
     InvalidArgumentException, "'QQ' is not supported"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="!{nope:x}/", ErrorOutputPrefix="e/")},
     InvalidArgumentException, "unknown expression namespace 'nope'"),
    ({"extended_s3_destination_configuration": s3_destination(Prefix="!{partitionKeyFromQuery:k}/",
                                                              ErrorOutputPrefix="e/")},
     InvalidArgumentException, "enable DynamicPartitioningConfiguration"),
    ({"extended_s3_destination_configuration": s3_destination(
        BufferingHints={"SizeInMBs": 64}, DynamicPartitioningConfiguration={"Enabled": True})},
     InvalidArgumentException, "Prefix must hold at least one"),
    ({"extended_s3_destination_configuration": s3_destination(
        Prefix="!{partitionKeyFromQuery:k}/", ErrorOutputPrefix="e/", DynamicPartitioningConfiguration={
            "Enabled": True})},
     InvalidArgumentException, "partition key(s) k that the MetadataExtractionQuery does not define"),
    ({"extended_s3_destination_configuration": s3_destination(
        Prefix="!{partitionKeyFromQuery:k}/", ErrorOutputPrefix="e/", BufferingHints={"SizeInMBs": 5},
        DynamicPartitioningConfiguration={"Enabled": True}, ProcessingConfiguration={"Processors": [
            {"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k: .key}"}]}]})},
     InvalidArgumentException, "at least 64 with dynamic partitioning"),
    ({"extended_s3_destination_configuration": s3_destination(ProcessingConfiguration={"Processors": [
        {"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k: .key | ascii}"}]}]})},
     InvalidArgumentException, "cannot read"),
    ({"delivery_stream_type": "KinesisStreamAsSource"}, InvalidArgumentException,
     "needs a KinesisStreamSourceConfiguration"),
    ({"kinesis_stream_source_configuration": {"KinesisStreamARN": "clicks"}}, InvalidArgumentException,
     "only allowed with DeliveryStreamType KinesisStreamAsSource"),
    ({"delivery_stream_type": "KinesisStreamAsSource",
      "kinesis_stream_source_configuration": {"KinesisStreamARN": "crn:crispml:streams:::stream/absent"}},
     InvalidArgumentException, "stream 'absent', which does not exist"),
    ({"extended_s3_destination_configuration": s3_destination(RoleARN="arn:aws:iam::1:role/r")},
     InvalidArgument, "unknown field"),
])
def test_create_refuses_bad_input(local: Client, fields: dict[str, Any], error: type[Exception],
                                  message: str) -> None:
    request = {"delivery_stream_name": "s", "extended_s3_destination_configuration": s3_destination(), **fields}
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(error, match=re.escape(message)):
        local.firehose.create_delivery_stream(**request)
    assert local.firehose.list_delivery_streams().delivery_stream_names == []


def test_a_taken_name_and_unknown_streams(local: Client) -> None:
    local.firehose.create_delivery_stream(delivery_stream_name="s", extended_s3_destination_configuration=(
        s3_destination()))
    with pytest.raises(ResourceInUseException, match="Firehose s already exists"):
        local.firehose.create_delivery_stream(delivery_stream_name="s",
                                              extended_s3_destination_configuration=s3_destination())
    for call in (local.firehose.describe_delivery_stream, local.firehose.delete_delivery_stream):
        with pytest.raises(ResourceNotFoundException, match="list-delivery-streams"):
            call(delivery_stream_name="absent")
