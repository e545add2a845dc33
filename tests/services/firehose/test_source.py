"""A Kinesis stream as the source: read from TRIM_HORIZON into the buffer, positions kept in the metadata
DB, so a restarted platform goes on where the last one stopped — on every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.firehose.errors import DeliveryFailedException, InvalidArgumentException
from tests.services.firehose import transforms
from tests.services.firehose.conftest import lines, s3_destination


def put(client: Client, stream: str, values: list[str]) -> None:
    client.streams.put_records(stream_name=stream, records=[{"Data": v, "PartitionKey": v} for v in values])


def test_a_stream_source_is_read_from_trim_horizon_and_resumed_after_a_restart(
    fh_client: Client, clock: FixedClock, home: Path, request: pytest.FixtureRequest,
) -> None:
    fh_client.streams.create_stream(stream_name="events", shard_count=2)
    early = [f"early-{i:02d}" for i in range(30)]
    put(fh_client, "events", early)  # before the delivery stream exists: TRIM_HORIZON takes them too
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="from-stream", delivery_stream_type="KinesisStreamAsSource",
        kinesis_stream_source_configuration={"KinesisStreamARN": "crn:crispml:streams:::stream/events"},
        extended_s3_destination_configuration=s3_destination(
            Prefix="events/", BufferingHints={"IntervalInSeconds": 60}, ProcessingConfiguration={"Processors": [
                {"Type": "Lambda", "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": f"{transforms.__name__}:count_calls"}]}]}))
    with pytest.raises(InvalidArgumentException, match="not permitted on KinesisStreamAsSource"):
        fh_client.firehose.put_record(delivery_stream_name="from-stream", record={"Data": b"x"})

    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="from-stream").deliveries
    assert (result.records_delivered, result.buffered_records) == (0, 30)  # read into the buffer, not yet due
    described = fh_client.firehose.describe_delivery_stream(
        delivery_stream_name="from-stream").delivery_stream_description
    assert described.source.kinesis_stream_source_description.kinesis_stream_arn == (
        "crn:crispml:streams:::stream/events")
    clock.advance(seconds=60)
    transforms.CALLS.clear()
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="from-stream").deliveries
    assert result.records_delivered == 30
    assert sorted(lines(fh_client, "events/")) == [v.encode() for v in early]
    (event,) = transforms.CALLS
    assert event["sourceKinesisStreamArn"] == "crn:crispml:streams:::stream/events"
    metadata = event["records"][0]["kinesisRecordMetadata"]
    assert metadata["shardId"].startswith("shardId-") and len(metadata["sequenceNumber"]) == 56
    assert metadata["partitionKey"] in early

    late = [f"late-{i:02d}" for i in range(10)]
    put(fh_client, "events", late)
    settings: dict[str, Any] = {"db_url": fh_client.settings.db_url, "lake_url": fh_client.settings.lake_url}
    if request.node.callspec.params["fh_client"] == "s3-sqlite":
        settings.update(request.getfixturevalue("s3_lake_url").kwargs)
    fh_client.close()
    with crispml.connect(home=str(home), clock=clock, **settings) as restarted:  # a new process would do the same
        restarted.firehose.flush_delivery_stream(delivery_stream_name="from-stream", force=True)
        delivered = lines(restarted, "events/")
    assert sorted(delivered) == sorted(v.encode() for v in early + late)  # each once: read on from the positions


def test_records_already_read_are_delivered_when_the_source_stream_is_gone(local: Client, clock: FixedClock) -> None:
    local.streams.create_stream(stream_name="short-lived", shard_count=1)
    put(local, "short-lived", ["a", "b", "c"])
    local.firehose.create_delivery_stream(
        delivery_stream_name="orphan", delivery_stream_type="KinesisStreamAsSource",
        kinesis_stream_source_configuration={"KinesisStreamARN": "short-lived"},
        extended_s3_destination_configuration=s3_destination(BufferingHints={"IntervalInSeconds": 60}))
    local.firehose.flush_delivery_stream(delivery_stream_name="orphan")  # read into the buffer
    local.streams.delete_stream(stream_name="short-lived")
    clock.advance(seconds=60)
    with pytest.raises(DeliveryFailedException, match="short-lived"):
        local.firehose.flush_delivery_stream(delivery_stream_name="orphan")
    assert sorted(lines(local)) == [b"a", b"b", b"c"]  # delivered all the same
    described = local.firehose.describe_delivery_stream(delivery_stream_name="orphan").delivery_stream_description
    assert described.buffered_records == 0
    assert described.failure_description is not None and "short-lived" in described.failure_description.details
